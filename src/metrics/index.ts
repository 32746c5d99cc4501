// Reflex's metrics about itself (docs/observability.md). What `reflex serve` mounts on /metrics:
//   app.get('/metrics', async (c) => c.body(await renderStoreMetrics(store, { now: Date.now() }), 200, { 'content-type': EXPOSITION_CONTENT_TYPE }))
export { EXPOSITION_CONTENT_TYPE, renderStoreMetrics, type RenderOptions } from './store.js';
export { publishRunMetrics, pushgatewayGroupUrl, writeTextfile } from './publish.js';
export { FAMILIES } from './families.js';
