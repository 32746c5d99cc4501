// The source registry: a source configuration in, a Source out (one folder per kind behind the one interface).
import { createHash } from 'node:crypto';
import type { SourceConfig } from '../config/schema.js';
import { createAlertmanagerSource } from './alertmanager/index.js';
import { createCommandSource } from './command/index.js';
import { compileHttpSource, createHttpSource } from './http/index.js';
import { createInventorySource } from './inventory/index.js';
import { createPrometheusSource } from './prometheus/index.js';
import { DEFAULT_MAX_DEPTH } from './shape.js';
import type { Source } from './types.js';

export { collectAll, type CollectOptions, type CollectResult, type SourceCache, type SourceReport, type SourceStatus } from './collect.js';
export { parseByteSize } from './limits.js';
export { SourceError, type Source, type SourceContext, type SourceOutput, type DefaultFacts } from './types.js';

type Factories = { [K in SourceConfig['kind']]: (config: Extract<SourceConfig, { kind: K }>) => Source };

const factories: Factories = {
  inventory: createInventorySource,
  prometheus: createPrometheusSource,
  alertmanager: createAlertmanagerSource,
  http: createHttpSource,
  command: createCommandSource,
};

/** Build the source for one configuration entry. The result's fingerprint keys its cooldown cache to this configuration. */
export function createSource(config: SourceConfig): Source {
  const make = factories[config.kind] as (c: SourceConfig) => Source;
  const source = make(config);
  const fingerprint = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
  return { ...source, fingerprint, maxDepth: config.max_depth ?? DEFAULT_MAX_DEPTH };
}

/** Sources in configuration order. */
export function createSources(configs: SourceConfig[]): Source[] {
  return configs.map(createSource);
}

/**
 * Problems in a source's configuration that can be found without running it (for `reflex check`):
 * CEL expressions of HTTP sources that do not compile or type-check. Messages start with the field.
 */
export function checkSource(config: SourceConfig): string[] {
  if (config.kind === 'http') return compileHttpSource(config).errors;
  return [];
}
