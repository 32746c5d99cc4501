// The exit status tells the scheduler the truth (issue 14.8, docs/exit-status.md): 0 when automation did its job
// (including when people switched it off, limits held it back or rules are in shadow mode), 1 when someone should
// look (an action failed, it is blind, a breaker tripped), through the real CLI.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers.js';
import { reflexAsync } from '../reliability/harness.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface World {
  /** Health per instance (missing: the source leaves the fact out). */
  healthy?: (i: number) => boolean | undefined;
  down?: boolean;
  /** The health source answers, but without the fact. */
  missing?: boolean;
  action?: string;
  mode?: string;
  guardrails?: string;
}

function project(w: World = {}): string {
  const health = Array.from({ length: 6 }, (_, i) => (w.missing ? null : (w.healthy?.(i + 1) ?? i !== 0)));
  const dir = fixture(
    {
      'reflex.yaml': `store: state.db
rules: [rules.yaml]
sources:
  - { name: inventory, kind: inventory, path: inventory.json }
  - { name: health, kind: command, argv: [${JSON.stringify(process.execPath)}, health.mjs], facts: [healthy] }
actions:
  restart: { kind: exec, argv: ["${w.action ?? 'true'}"] }
defaults: { mode: ${w.mode ?? 'enforce'} }
guardrails:
${w.guardrails ?? '  widespread: { min_targets: 100 }'}
`,
      'rules.yaml': `rules:
  - name: restart-unhealthy
    target: { kind: instance }
    when: { unhealthy: "!facts.healthy" }
    do: [{ action: restart }]
`,
      'inventory.json': JSON.stringify({
        targets: Array.from({ length: 6 }, (_, i) => ({ id: `web-${i + 1}`, kind: 'instance', labels: { service: 'shop' } })),
      }),
      'health.mjs': `${w.down ? "console.error('connection refused'); process.exit(1);" : ''}
const h = ${JSON.stringify(health)};
console.log(JSON.stringify({ targets: h.map((v, i) => ({ id: 'web-' + (i + 1), facts: v === null ? {} : { healthy: v } })) }));
`,
    },
    'reflex-exit-',
  );
  dirs.push(dir);
  return dir;
}

async function run(dir: string, args: string[] = []) {
  const r = await reflexAsync(dir, ['run', ...args]);
  return { code: r.code, out: r.out, json: args.includes('--json') ? JSON.parse(r.stdout) : null };
}

describe('reflex run exit status', () => {
  it('0: the rule acted and nothing went wrong', async () => {
    const r = await run(project());
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('EXECUTED');
  });

  it('0: people switched automation off; the limits held decisions back; the rule is in shadow mode', async () => {
    const off = project();
    expect((await reflexAsync(off, ['disable', '--all', '--reason', 'freeze'])).code).toBe(0);
    expect((await run(off)).code).toBe(0);
    const limited = project({
      healthy: () => false,
      guardrails: '  widespread: { min_targets: 100, implausible: false }\n  blast_radius: { per_rule: "1 per 10m", group_fraction: 1 }',
    });
    const l = await run(limited);
    expect(l.code, l.out).toBe(0);
    expect(l.out).toContain('BLOCKED');
    const shadow = await run(project({ mode: 'dry-run' }));
    expect(shadow.code, shadow.out).toBe(0);
    expect(shadow.out).toContain('DRY-RUN');
  });

  it('1: an action failed', async () => {
    const r = await run(project({ action: 'false' }));
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain('FAILED');
  });

  it('1: automation is blind because its source failed, and the problem says so', async () => {
    const r = await run(project({ down: true }), ['--json']);
    expect(r.code, r.out).toBe(1);
    const reasons = (r.json.problems as { reason: string }[]).map((p) => p.reason);
    expect(reasons).toContain('blind');
  });

  it('1: automation is blind although every source answered (the fact is missing for every target)', async () => {
    const r = await run(project({ missing: true }), ['--json']);
    expect(r.code, r.out).toBe(1);
    expect(r.json.problems).toEqual([
      expect.objectContaining({ reason: 'blind', detail: expect.stringMatching(/^automation is blind for rule restart-unhealthy: all 6 targets unknown/) }),
    ]);
  });

  it('1: a breaker stopped the rule (a widespread problem), once per rule and breaker however many targets', async () => {
    const r = await run(project({ healthy: (i) => i > 3, guardrails: '  widespread: { fraction: 0.3, min_targets: 3, implausible: false }' }), ['--json']);
    expect(r.code, r.out).toBe(1);
    const breakers = (r.json.problems as { reason: string }[]).filter((p) => p.reason === 'breaker:widespread');
    expect(breakers).toHaveLength(1);
  });

  it('the same in a dry run: it says what a real run would meet', async () => {
    expect((await run(project({ action: 'false' }), ['--dry-run'])).code).toBe(0); // nothing ran, nothing failed
    expect((await run(project({ down: true }), ['--dry-run'])).code).toBe(1);
  });

  it('2: the project is refused; nothing is started', async () => {
    const dir = project();
    writeFileSync(
      join(dir, 'rules.yaml'),
      'rules:\n  - name: x\n    target: { kind: instance }\n    when: { a: "facts.healthy ==" }\n    do: [{ action: restart }]\n',
    );
    expect((await run(dir)).code).toBe(2);
  });
});
