// A recorded project for the console's tests: targets with hostile ids and labels, runs that acted, failed, were
// blocked and shadowed, recorded by the real CLI into a real SQLite store; and the app built in-process over it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadOrExit, openStoreOrExit } from '../../src/cli/project.js';
import { createApp } from '../../src/serve/app.js';
import type { ReadModel, RuleTests } from '../../src/serve/data.js';
import type { Store } from '../../src/store/types.js';
import { CLI, fixture, reflex } from '../helpers.js';

/** Ids and labels a hostile or careless source could report: markup, quotes, control characters, a bidi override. */
export const HOSTILE = {
  script: '<script>alert(1)</script>',
  quotes: `web-"q'uote`,
  control: 'ctl-\u001b[31m-red\u0007',
  bidi: 'bidi-\u202eevil',
  label: '"><img src=x onerror=alert(2)>',
};

const INVENTORY = `targets:
  - { id: ${JSON.stringify(HOSTILE.script)}, kind: instance, labels: { service: shop, team: ${JSON.stringify(HOSTILE.label)} }, facts: { healthy: false, flaky: false } }
  - { id: ${JSON.stringify(HOSTILE.quotes)}, kind: instance, labels: { service: shop, team: core }, facts: { healthy: false, flaky: true } }
  - { id: "ctl-\\e[31m-red\\a", kind: instance, labels: { service: shop, team: core }, facts: { healthy: true, flaky: false } }
  - { id: "bidi-\\u202eevil", kind: instance, labels: { service: cart, team: core }, facts: { healthy: true, flaky: false } }
  - { id: web-1, kind: instance, labels: { service: shop, team: core }, facts: { healthy: true, flaky: false } }
  - { id: web-2, kind: instance, labels: { service: shop, team: core }, facts: { healthy: true, flaky: false } }
  - { id: web-3, kind: instance, labels: { service: cart, team: core }, facts: { healthy: true, flaky: false } }
  - { id: web-4, kind: instance, labels: { service: cart, team: core }, facts: { healthy: true, flaky: false } }
  - { id: web-5, kind: instance, labels: { service: cart, team: core }, facts: { healthy: true, flaky: false } }
  - { id: web-6, kind: instance, labels: { service: cart, team: core }, facts: { healthy: true, flaky: false } }
`;

export const FILES: Record<string, string> = {
  'reflex.yaml': `store: .reflex/state.db
rules: [rules/*.yaml]
sources:
  - { name: inventory, kind: inventory, path: inventory.yaml }
actions:
  poke:
    kind: exec
    argv: [node, -e, "process.exit(0)"]
    cooldown: 1m
  break:
    kind: exec
    argv: [node, -e, "process.exit(3)"]
    cooldown: 1m
defaults:
  mode: enforce
guardrails:
  widespread: { fraction: 0.9, min_targets: 50, group_by: [service] }
  blast_radius: { group_fraction: 0.5, group_by: [service] }
`,
  'inventory.yaml': INVENTORY,
  'rules/app.yaml': `rules:
  - name: restart-unhealthy
    target: { kind: instance }
    when:
      unhealthy: "!facts.healthy"
    do:
      - action: poke
  - name: fix-flaky
    target: { kind: instance }
    when:
      flaky: facts.flaky
    do:
      - action: break
  - name: shadow-restart
    mode: dry-run
    target: { kind: instance }
    when:
      unhealthy: "!facts.healthy"
    do:
      - action: poke
`,
};

export interface Recorded {
  dir: string;
}

/** The project, with two runs: a dry run and an enforcing run (one action succeeded, one failed). */
export function recordedProject(): Recorded {
  const dir = fixture(FILES, 'reflex-serve-');
  for (const args of [
    ['run', '--dry-run', '-q'],
    ['run', '-q'],
  ]) {
    const r = reflex(args, { cwd: dir });
    // The enforcing run has a failed action: exit 1 is what it says about that.
    if (r.status !== 0 && r.status !== 1) throw new Error(`reflex ${args.join(' ')} exited ${r.status}: ${r.out}`);
  }
  return { dir };
}

/** The app in-process over a recorded project (as `reflex serve` builds it), with its store. */
export async function appOver(
  dir: string,
  opts: {
    token?: string | null;
    coverage?: Map<string, RuleTests> | null;
    clock?: () => number;
    client?: string;
    /** Watch for new runs (AppOptions.watchMs), until `signal` aborts; `wrap` stands between the app and the store. */
    watchMs?: number;
    signal?: AbortSignal;
    wrap?: (store: Store) => Store;
    /**
     * Compute runs' listings in the worker thread, started from the built CLI (as `reflex serve` does); gated: see
     * AppOptions; a URL: started from that module instead.
     */
    worker?: 'on' | 'gated' | URL;
  } = {},
) {
  const loaded = await loadOrExit({ config: join(dir, 'reflex.yaml') });
  const store: Store = await openStoreOrExit(loaded.project);
  const lines: string[] = [];
  const client = opts.client;
  let model: ReadModel | undefined;
  const app = createApp(
    { store: opts.wrap ? opts.wrap(store) : store, loaded, coverage: opts.coverage ?? null, clock: opts.clock },
    {
      token: opts.token ?? null,
      log: (l) => lines.push(l),
      clientOf: client === undefined ? undefined : () => client,
      watchMs: opts.watchMs,
      signal: opts.signal,
      workerEntry: opts.worker instanceof URL ? opts.worker : opts.worker ? pathToFileURL(CLI) : undefined,
      workerGated: opts.worker === 'gated',
      extra: (_app, m) => {
        model = m;
      },
    },
  );
  return { app, store, loaded, lines, model: model as unknown as ReadModel };
}

export const TOKEN = 'test-token-0123456789abcdef';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'reflex-serve-out-'));
}

/**
 * The human half (approvals, verification) over hostile target ids: `repair` asks a person first (mode: approve),
 * `nudge` acts and checks within one run that it helped (it never does: the box stays stuck). Two runs: after them,
 * two requests wait (#1 on the script id, #2 on the quoted id) and the nudge of `ctl-...` is ineffective.
 */
export const HUMAN_FILES: Record<string, string> = {
  'reflex.yaml': `store: .reflex/state.db
rules: [rules.yaml]
sources: [{ name: inv, kind: inventory, path: inv.yaml }]
actions:
  fix: { kind: exec, argv: [node, -e, "process.exit(0)", "{{ target.id }}"], cooldown: 1s }
channels: { humans: { kind: log, path: escalations.jsonl } }
defaults: { escalate_to: humans, mode: enforce }
guardrails:
  widespread: { min_targets: 1000 }
  blast_radius: { group_by: [] }
`,
  'inv.yaml': `targets:
  - { id: ${JSON.stringify(HOSTILE.script)}, kind: box, labels: { team: ${JSON.stringify(HOSTILE.label)} }, facts: { broken: true, stuck: false } }
  - { id: ${JSON.stringify(HOSTILE.quotes)}, kind: box, facts: { broken: true, stuck: false } }
  - { id: "ctl-\\e[31m-red\\a", kind: box, facts: { broken: false, stuck: true } }
  - { id: box-1, kind: box, facts: { broken: false, stuck: false } }
`,
  'rules.yaml': `rules:
  - name: troubled
    target: { kind: box }
    derive: troubled
    when: { any: facts.broken || facts.stuck }
  - name: repair
    mode: approve
    target: { kind: box }
    when: { broken: facts.broken }
    do: [{ action: fix }]
  - name: nudge
    target: { kind: box }
    when: { stuck: facts.stuck }
    verify: { within: 1 run }
    do: [{ action: fix }]
`,
};

export function humanProject(files: Record<string, string> = HUMAN_FILES): Recorded {
  const dir = fixture(files, 'reflex-serve-human-');
  for (let i = 0; i < 2; i++) {
    const r = reflex(['run', '-q'], { cwd: dir });
    if (r.status !== 0 && r.status !== 1) throw new Error(`reflex run exited ${r.status}: ${r.out}`);
  }
  return { dir };
}

/**
 * A project of `n` instances over `services` services with two acting rules (restart the unhealthy, poke the busy
 * above `busyAbove`), recorded once by a dry run: a fleet for the tests that watch runs while the console reads.
 */
export function pokeProject(n: number, o: { services: number; unhealthyEvery: number; busyAbove: number; prefix: string }): string {
  const targets = Array.from(
    { length: n },
    (_, i) =>
      `  - { id: i-${i}, kind: instance, labels: { service: s${i % o.services} }, facts: { healthy: ${i % o.unhealthyEvery !== 0}, load: ${(i % 100) / 100} } }`,
  );
  const dir = fixture(
    {
      'reflex.yaml': `store: .reflex/state.db
rules: [rules/*.yaml]
sources: [{ name: inventory, kind: inventory, path: inventory.yaml }]
actions: { poke: { kind: exec, argv: [node, -e, "0"] } }
`,
      'inventory.yaml': `targets:\n${targets.join('\n')}\n`,
      'rules/a.yaml': `rules:
  - name: restart
    target: { kind: instance }
    when: { down: "!facts.healthy" }
    do: [{ action: poke }]
  - name: busy
    target: { kind: instance }
    when: { busy: facts.load > ${o.busyAbove} }
    do: [{ action: poke }]
`,
    },
    o.prefix,
  );
  const r = reflex(['run', '--dry-run', '-q'], { cwd: dir });
  if (r.status !== 0) throw new Error(`the first run of ${dir} failed: ${r.out}`);
  return dir;
}
