// Projects of the process tests: boxes in an inventory file, enforced rules that act on every broken box with an exec action of the test's own.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { sleep } from './cli.js';

/** Guardrails that stay out of the way: a test that is about one of them says so. */
export const QUIET_GUARDRAILS =
  '{ budget_per_run: 1000, widespread: { min_targets: 100000 }, blast_radius: { per_rule: "100000 per 1m", group_fraction: 1, group_by: [] }, failure_breaker: { failures: 1000, of_last: 1000 } }';

export interface BoxProject {
  /** The project's folder; the action script is `action.mjs` in it. */
  dir: string;
  /** The store: a file in the folder or a PostgreSQL URL. */
  store: string;
  /** Exec actions, each `node DIR/action.mjs ARGS` (absolute, so an orphaned action shows the project's path in its command line). */
  actions: Record<string, { args: string[]; timeout: string; cooldown: string }>;
  /** Enforced rules: rule -> the action it runs on every box whose fact `broken` is true. */
  rules: Record<string, string>;
  /** More rules (YAML list items) after those. */
  moreRules?: string;
  /** The lines under `channels:` (none: no channels). */
  channels?: string;
  /** The lines under `defaults:`. */
  defaults: string;
  /** The value of `guardrails:` (default QUIET_GUARDRAILS). */
  guardrails?: string;
  /** The value of `shards:` (flow YAML). */
  shards: string;
}

/** Write reflex.yaml and rules.yaml, and an empty inventory when there is none yet. */
export function writeBoxProject(p: BoxProject): void {
  const actions = Object.entries(p.actions).map(
    ([name, a]) => `  ${name}:
    kind: exec
    argv: ${JSON.stringify([process.execPath, join(p.dir, 'action.mjs'), ...a.args])}
    timeout: ${a.timeout}
    cooldown: ${a.cooldown}
`,
  );
  writeFileSync(
    join(p.dir, 'reflex.yaml'),
    `store: ${JSON.stringify(p.store)}
rules: [rules.yaml]
sources:
  - { name: inventory, kind: inventory, path: inventory.json }
actions:
${actions.join('')}${p.channels === undefined ? '' : `channels:\n${p.channels}`}defaults:
${p.defaults}guardrails: ${p.guardrails ?? QUIET_GUARDRAILS}
shards: ${p.shards}
`,
  );
  const rules = Object.entries(p.rules).map(
    ([rule, action]) => `  - name: ${rule}
    target: { kind: box }
    when: { broken: facts.broken }
    mode: enforce
    do: [{ action: ${action} }]
`,
  );
  writeFileSync(join(p.dir, 'rules.yaml'), `rules:\n${rules.join('')}${p.moreRules ?? ''}`);
  if (!existsSync(join(p.dir, 'inventory.json'))) writeTargets(p.dir, []);
}

export interface InventoryTarget {
  id: string;
  kind?: string;
  labels?: Record<string, string>;
  facts: Record<string, unknown>;
}

/** Write the inventory the project's source reads (kind `box` unless said). */
export function writeTargets(dir: string, targets: InventoryTarget[]): void {
  writeFileSync(join(dir, 'inventory.json'), JSON.stringify({ targets: targets.map((t) => ({ ...t, kind: t.kind ?? 'box' })) }));
}

/** The non-empty lines of a file the project's action or channel appends to (none while it does not exist). */
export function linesOf(dir: string, file: string): string[] {
  const f = join(dir, file);
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
}

/** The lines of actions.log, each parsed by `re` (a line it does not match fails the test). */
export function actionLog<T>(dir: string, re: RegExp, parse: (m: RegExpExecArray) => T): T[] {
  return linesOf(dir, 'actions.log').map((l) => {
    const m = re.exec(l);
    if (!m) throw new Error(`unexpected line in actions.log: ${JSON.stringify(l)}`);
    return parse(m);
  });
}

/**
 * Wait (for real) until leases a killed runner left behind have expired, so the next run may take them: until the
 * latest expiry the store recorded, plus a few ms for clock granularity. A dead runner's leases are never released.
 */
export async function waitPast(expiries: number[]): Promise<void> {
  const wait = Math.max(0, ...expiries) - Date.now() + 5;
  if (wait > 0) await sleep(wait);
}

/** `make`, with every folder it makes removed after the test file's tests (call it at the top of the file). */
export function removedAfterAll<A extends unknown[]>(make: (...a: A) => string): (...a: A) => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return (...a) => {
    const d = make(...a);
    dirs.push(d);
    return d;
  };
}
