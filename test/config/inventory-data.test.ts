// Inventory data is checked like configuration, and fact types are known before running (issue 13.2, 13.3).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfigFile } from '../../src/check/index.js';
import { fixture, reflex } from '../helpers.js';

const CONFIG = `rules: [rules/*.yaml]
sources:
  - { name: inventory, kind: inventory, path: inventory.yaml }
actions:
  restart:
    kind: exec
    argv: [echo, restart, "{{ params.instance }}"]
    params: { instance: { pattern: "[a-z0-9-]+" } }
channels:
  oncall: { kind: log, path: escalations.jsonl }
defaults:
  escalate_to: oncall
  mode: enforce
`;

const RULES = `rules:
  - name: page-stalled-gold
    target: { kind: worker, labels: { customer: gold } }
    when:
      stalled: facts.stalled
    escalate: oncall
  - name: restart-stalled
    target: { kind: worker, labels: { customer: "!gold" } }
    when:
      stalled: facts.stalled
    do:
      - action: restart
        with: { instance: "{{ target.id }}" }
`;

/** Where `needle` is in `text`, as line:col (1-based). */
function pos(text: string, needle: string, nth = 0): string {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = text.indexOf(needle, at + 1);
  if (at < 0) throw new Error(`${needle} not found`);
  const before = text.slice(0, at).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

async function check(files: Record<string, string>) {
  const dir = fixture(files);
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const r = await checkConfigFile(join(dir, 'reflex.yaml'));
    return r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`);
  } finally {
    process.chdir(cwd);
  }
}

describe('inventory data is checked like configuration', () => {
  const INVENTORY = `version: 2
targets:
  - id: worker-1
    kind: worker
    labels: { customer: silver }
    facts: { stalled: false }
  - id: worker-gold
    kind: worker
    lables: { customer: gold }
    facts: { stalled: true }
  - id: worker-3
    kindd: worker
    labels: { customer: silver }
    facts: { stalled: false }
  - id: worker-4
    kind: worker
    labels: { customer: silver, zones: [a, b] }
    facts: { stalled: 1e400 }
  - kind: worker
    facts: { stalled: true }
`;

  it('a misspelt key, an unknown top-level key, a wrong type: every one is an error at its line:column, with a did-you-mean', () => {
    const dir = fixture({ 'reflex.yaml': CONFIG, 'rules/r.yaml': RULES, 'inventory.yaml': INVENTORY });
    const res = reflex(['check'], { cwd: dir });
    expect(res.status).toBe(2);
    const src = 'source "inventory"';
    expect(res.stdout.split('\n').filter(Boolean)).toEqual([
      `inventory.yaml:${pos(INVENTORY, 'version')}: ${src}: unknown top-level field \`version\` (an inventory has only \`targets\`)`,
      `inventory.yaml:${pos(INVENTORY, 'lables')}: ${src}: unknown field \`lables\`, did you mean \`labels\`?`,
      `inventory.yaml:${pos(INVENTORY, 'kindd')}: ${src}: unknown field \`kindd\`, did you mean \`kind\`?`,
      `inventory.yaml:${pos(INVENTORY, '[a, b]')}: ${src}: label \`zones\` must be text, a number or a boolean, not a list`,
      `inventory.yaml:${pos(INVENTORY, '1e400')}: ${src}: fact \`stalled\`: the number is out of range (+Infinity, e.g. 1e400 written in the data)`,
      `inventory.yaml:${pos(INVENTORY, 'kind: worker\n    facts: { stalled: true }')}: ${src}: a target needs an \`id\`; the entry is left out`,
      expect.stringMatching(/^6 errors/),
    ]);
    expect(res.out).not.toMatch(/\n\s+at /);
  });

  it('reflex run refuses the same inventory (exit 2, the same messages) and neither acts nor pages', () => {
    const dir = fixture({ 'reflex.yaml': CONFIG, 'rules/r.yaml': RULES, 'inventory.yaml': INVENTORY });
    const check = reflex(['check'], { cwd: dir });
    const run = reflex(['run'], { cwd: dir });
    expect(run.status).toBe(2);
    for (const line of check.stdout.split('\n').filter((l) => l.startsWith('inventory.yaml:'))) expect(run.out).toContain(line);
    expect(() => readFileSync(join(dir, 'escalations.jsonl'))).toThrow();
  });

  it('the same inventory without the mistakes passes, and the gold worker is paged, not restarted', () => {
    const fixed = INVENTORY.replace('version: 2\n', '')
      .replace('lables', 'labels')
      .replace('kindd', 'kind')
      .replace(', zones: [a, b]', '')
      .replace('1e400', 'false')
      .replace('  - kind: worker\n    facts: { stalled: true }\n', '');
    const dir = fixture({ 'reflex.yaml': CONFIG, 'rules/r.yaml': RULES, 'inventory.yaml': fixed });
    expect(reflex(['check'], { cwd: dir }).status).toBe(0);
    const run = reflex(['run'], { cwd: dir });
    expect(run.out).toMatch(/page-stalled-gold.*worker-gold|worker-gold.*page-stalled-gold/);
    expect(readFileSync(join(dir, 'escalations.jsonl'), 'utf8')).toContain('worker-gold');
  });
});

describe('types known before running', () => {
  const inventory = `targets:
  - { id: q-1, kind: queue, facts: { queue_depth: 1200, healthy: 1, tier: gold, note: null } }
  - { id: q-2, kind: queue, facts: { queue_depth: 10, healthy: 0, tier: silver, note: x } }
`;
  const project = (when: Record<string, string>, extra = '') => ({
    'reflex.yaml': `rules: [rules/*.yaml]
sources:
  - { name: inventory, kind: inventory, path: inventory.yaml }
${extra}channels:
  oncall: { kind: log }
`,
    'inventory.yaml': inventory,
    'rules/r.yaml': `rules:
  - name: deep-queue
    target: { kind: queue }
    when:
${Object.entries(when)
  .map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`)
  .join('\n')}
    escalate: oncall
`,
  });

  it('facts.queue_depth > "1000" and !facts.healthy on numbers are check errors at the expression', async () => {
    const files = project({ deep: 'facts.queue_depth > "1000"', down: '!facts.healthy', ok: 'facts.tier == "gold" && facts.queue_depth > 1000' });
    const errors = await check(files);
    const rules = files['rules/r.yaml'];
    expect(errors).toEqual([
      `rules/r.yaml:${pos(rules, 'facts.queue_depth > \\"1000\\"')}: rule "deep-queue", when "deep": no such overload: number > string; facts.queue_depth is a number (in inventory "inventory")`,
      `rules/r.yaml:${pos(rules, '!facts.healthy')}: rule "deep-queue", when "down": no such overload: !number; facts.healthy is a number (in inventory "inventory")`,
    ]);
  });

  it('what run time accepts is not an error: null checks, has(), in lists, mixed ternaries, untyped facts', async () => {
    const errors = await check(
      project({
        a: 'facts.queue_depth != null && facts.queue_depth > 3',
        b: 'has(facts.queue_depth) && facts.queue_depth in [10, 1200]',
        c: '(facts.tier == "gold" ? facts.queue_depth : 0) > 5',
        d: 'facts.note == "x" || facts.note == 1',
        e: 'facts.queue_depth + 1 > 2 && size(facts.tier) > 0',
        f: 'facts.healthy == 0',
      }),
    );
    expect(errors).toEqual([]);
  });

  it('a comparison that can never hold across types (text with a number) is an error, so is a number used as a condition', async () => {
    const errors = await check(project({ a: 'facts.tier == 1', b: 'facts.healthy' }));
    expect(errors).toEqual([
      expect.stringMatching(/when "a": no such overload: string == int; facts\.tier is text/),
      expect.stringMatching(/when "b": a condition must be true or false, but this expression is a number; facts\.healthy is a number/),
    ]);
  });

  it('a command declares types with facts: {name: type}, and they are checked', async () => {
    const extra = `  - name: forecast
    kind: command
    argv: [./forecast]
    facts: { hours_until_full: number, forecast_ok: bool }
`;
    const files = project({ soon: 'facts.hours_until_full < "24"', ok: 'facts.forecast_ok && facts.hours_until_full < 24' }, '');
    files['reflex.yaml'] = files['reflex.yaml'].replace('channels:', `${extra}channels:`);
    expect(await check(files)).toEqual([
      expect.stringMatching(/when "soon": no such overload: number < string; facts\.hours_until_full is a number \(source "forecast", type: number\)/),
    ]);
  });

  it('a Prometheus fact is a number unless the query says type: bool, and check says so', async () => {
    const prom = (type: string) => `  - name: prom
    kind: prometheus
    url: http://127.0.0.1:9
    queries:
      - { fact: up, query: 'up{job="shop"}'${type} }
`;
    const untyped = project({ down: '!facts.up' });
    untyped['reflex.yaml'] = untyped['reflex.yaml'].replace('channels:', `${prom('')}channels:`);
    expect(await check(untyped)).toEqual([
      expect.stringMatching(
        /when "down": no such overload: !number; facts\.up is a number \(Prometheus source "prom" gives numbers; declare the query `type: bool` for 0\/1\)/,
      ),
    ]);
    const typed = project({ down: '!facts.up' });
    typed['reflex.yaml'] = typed['reflex.yaml'].replace('channels:', `${prom(', type: bool')}channels:`);
    expect(await check(typed)).toEqual([]);
  });

  it("reflex init's commented Prometheus example, uncommented, passes check: up with type: bool, read as !facts.healthy", () => {
    const parent = fixture({});
    expect(reflex(['init', 'proj'], { cwd: parent }).status).toBe(0);
    const dir = join(parent, 'proj');
    const cfg = readFileSync(join(dir, 'reflex.yaml'), 'utf8');
    expect(cfg).not.toMatch(/query: up\{job="shop"\} == 1/);
    const block = cfg.match(/ {2}# - name: prometheus[\s\S]*?\n(?! {2}# {3})/)![0];
    const uncommented = block.replace(/^ {2}# /gm, '  ');
    expect(uncommented).toContain('type: bool');
    writeFileSync(join(dir, 'reflex.yaml'), cfg.replace(block, uncommented));
    const res = reflex(['check'], { cwd: dir });
    expect(res.out).toMatch(/^ok: /);
    expect(res.status).toBe(0);
    // Without the type, Prometheus gives numbers where the inventory and the starter rule (!facts.healthy) have booleans.
    writeFileSync(join(dir, 'reflex.yaml'), cfg.replace(block, uncommented.replace(/\n.*type: bool.*/, '')));
    const bad = reflex(['check'], { cwd: dir });
    expect(bad.out).toMatch(
      /warning: fact "healthy" is a number \(Prometheus source "prometheus" gives numbers; .*\) and a boolean \(in inventory "inventory"\)/,
    );
  });
});
