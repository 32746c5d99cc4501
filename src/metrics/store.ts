// The exposition text from the store: what `reflex serve` answers on /metrics, and what each run writes to its textfile
// and pushes to the Pushgateway (the same function, so the same series). Reads only; never waits on a run.
import { FAILURE_BREAKER_BY } from '../guards/failures.js';
import { STORE_SCOPE, type DisableScope, type MetricSample, type Store } from '../store/types.js';
import { VERSION } from '../util/version.js';
import { render, type Family, type Sample } from './exposition.js';
import { BY_NAME, FAMILIES } from './families.js';
import { RUN_STATUSES, SKIP_REASONS } from './run.js';

export { EXPOSITION_CONTENT_TYPE } from './exposition.js';

const DISABLE_SCOPES: readonly DisableScope[] = ['rule', 'action', 'target', 'selector'];

export interface RenderOptions {
  /** The clock: which disables are in force. */
  now: number;
  /**
   * Only these runner scopes' last-run series (and the store-wide ones). Default: every runner's, each labelled with
   * its `shard` when the layout is sharded (`reflex serve`). A run's textfile and push hold only its own.
   */
  scopes?: readonly string[];
  /** Label last-run series with their `shard` (default true). The Pushgateway's grouping key carries it instead. */
  shardLabel?: boolean;
}

type Store_ = Pick<Store, 'listMetrics' | 'getSwitch' | 'listDisables'>;

/** Render every Reflex series from the store, in the Prometheus text exposition format. */
export async function renderStoreMetrics(store: Store_, opts: RenderOptions): Promise<string> {
  const [stored, sw, disables] = await Promise.all([store.listMetrics(), store.getSwitch(), store.listDisables({ activeAt: opts.now })]);
  const shardLabel = opts.shardLabel ?? true;
  const scopes = opts.scopes ? new Set(opts.scopes) : null;

  const families = new Map<Family, Map<string, Sample>>(Object.values(FAMILIES).map((f) => [f, new Map()]));
  const put = (family: Family, labels: Record<string, string>, value: number) => {
    const key = JSON.stringify(Object.entries(labels).sort());
    families.get(family)!.set(key, { labels, value });
  };

  put(FAMILIES.buildInfo, { version: VERSION }, 1);
  // Counters people look for from the first run: present at 0 rather than absent.
  for (const status of RUN_STATUSES) put(FAMILIES.runs, { status }, 0);
  for (const reason of SKIP_REASONS) put(FAMILIES.skipped, { reason }, 0);

  for (const s of stored as MetricSample[]) {
    const family = BY_NAME.get(s.name);
    if (!family) continue; // written by a newer Reflex: its help and type are not known here
    if (s.scope !== STORE_SCOPE && scopes && !scopes.has(s.scope)) continue;
    const labels = shardLabel && s.scope !== STORE_SCOPE && s.scope !== '' ? { ...s.labels, shard: s.scope } : s.labels;
    put(family, labels, s.value);
  }

  put(FAMILIES.offSwitch, {}, sw.off ? 1 : 0);
  if (sw.at !== null) put(FAMILIES.offSwitchChanged, {}, sw.at / 1000);
  const byScope = new Map<string, number>(DISABLE_SCOPES.map((s) => [s, 0]));
  for (const d of disables) {
    byScope.set(d.scope, (byScope.get(d.scope) ?? 0) + 1);
    if (d.by === FAILURE_BREAKER_BY && d.scope === 'rule') put(FAMILIES.breakers, { breaker: 'failures', rule: d.value }, 1);
  }
  for (const [scope, n] of byScope) put(FAMILIES.disables, { scope }, n);

  return render([...families].map(([family, samples]) => ({ family, samples: [...samples.values()] })));
}
