// The off switch is the one control a person must always have: it works without loading the project (even a broken
// one), and the audit log names the person who flipped it, from the operating system when nothing else says.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, fixture, reflex } from '../helpers.js';

const project = () =>
  fixture({
    'reflex.yaml': `store: \${STATE_DIR:-.}/state.db
rules: [rules.yaml]
sources: [{ name: inv, kind: inventory, path: inv.yaml }]
actions: { fix: { kind: exec, argv: [node, -e, "1"] } }
`,
    'rules.yaml': 'rules:\n  - { name: repair, target: { kind: box }, when: { broken: facts.broken }, mode: enforce, do: [{ action: fix }] }\n',
    'inv.yaml': 'targets:\n  - { id: a, kind: box, facts: { broken: true } }\n',
  });

/** Only what a cron job or a systemd unit has: no USER, LOGNAME, SUDO_USER or REFLEX_USER. */
function bare(args: string[], cwd: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of ['USER', 'USERNAME', 'LOGNAME', 'SUDO_USER', 'REFLEX_USER']) delete env[k];
  return spawnSync(process.execPath, [CLI, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
}

describe('reflex disable --all', () => {
  it('switches automation off in a project whose rules do not load, and enable --all switches it on again', () => {
    const dir = project();
    writeFileSync(join(dir, 'rules.yaml'), 'rules:\n  - { name: repair, target: { kind: box }, when: { broken: "facts.broken &&" } }\n');
    expect(reflex(['check'], { cwd: dir }).status).toBe(2);
    const off = reflex(['disable', '--all', '--reason', 'incident 4711', '--by', 'alice'], { cwd: dir });
    expect(off.status, off.out).toBe(0);
    expect(off.stdout).toBe('disabled all automation (by alice: "incident 4711", until enabled again)\n');
    const on = reflex(['enable', '--all', '--by', 'alice'], { cwd: dir });
    expect(on.status, on.out).toBe(0);
    expect(on.stdout).toBe('automation is on again\n');
  });

  it('finds the store through ${VAR:-default} in reflex.yaml as a loaded project would', () => {
    const dir = project();
    const elsewhere = join(dir, 'elsewhere');
    const env = { ...process.env, STATE_DIR: elsewhere };
    expect(reflex(['disable', '--all', '--reason', 'r'], { cwd: dir, env }).status).toBe(0);
    expect(existsSync(join(elsewhere, 'state.db'))).toBe(true);
    expect(existsSync(join(dir, 'state.db'))).toBe(false);
    expect(JSON.parse(reflex(['status', '--json'], { cwd: dir, env }).stdout).switch).toMatchObject({ off: true, reason: 'r' });
  });

  it('records the operating-system user in the audit log when the environment names nobody, never "unknown"', () => {
    const dir = project();
    const off = bare(['disable', '--all', '--reason', 'maintenance'], dir);
    expect(off.status, off.stderr).toBe(0);
    expect(off.stdout).toContain(`(by ${userInfo().username}: "maintenance"`);
    const st = JSON.parse(bare(['status', '--json'], dir).stdout);
    expect(st.switch.by).toBe(userInfo().username);
    expect(JSON.stringify(st)).not.toContain('"unknown"');
  });
});
