// The source registry: a source configuration in, a Source out (one folder per kind behind the one interface).
import { createHash } from 'node:crypto';
import type { SourceConfig } from '../config/schema.js';
import { createAlertmanagerSource } from './alertmanager/index.js';
import { createHttpSource } from './http/index.js';
import { createInventorySource } from './inventory/index.js';
import { createPrometheusSource } from './prometheus/index.js';
import { SourceError, type Source } from './types.js';

export { collectAll, type CollectOptions, type CollectResult, type SourceCache, type SourceReport, type SourceStatus } from './collect.js';
export { SourceError, type Source, type SourceContext, type SourceOutput, type DefaultFacts } from './types.js';

type Factories = { [K in SourceConfig['kind']]: (config: Extract<SourceConfig, { kind: K }>) => Source };

const factories: Factories = {
  inventory: createInventorySource,
  prometheus: createPrometheusSource,
  alertmanager: createAlertmanagerSource,
  http: createHttpSource,
  command: (c) => notYet(c),
};

function notYet(config: SourceConfig): Source {
  return {
    name: config.name,
    kind: config.kind,
    declaredFacts: () => null,
    collect: async () => {
      throw new SourceError(`source kind "${config.kind}" is not implemented yet`);
    },
  };
}

/** Build the source for one configuration entry. The result's fingerprint keys its cooldown cache to this configuration. */
export function createSource(config: SourceConfig): Source {
  const make = factories[config.kind] as (c: SourceConfig) => Source;
  const source = make(config);
  const fingerprint = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
  return { ...source, fingerprint };
}

/** Sources in configuration order. */
export function createSources(configs: SourceConfig[]): Source[] {
  return configs.map(createSource);
}
