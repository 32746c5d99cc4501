// Terminal output is safe: control characters and bidi overrides in target ids, labels, reasons and messages are
// printed as visible escapes by why, history, status, disable and run, and --json keeps the exact values.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { terminalSafe } from '../../src/util/terminal.js';
import { fixture, reflex } from '../helpers.js';

const CLEAR = '\u001b[2J';
const LINK = '\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007';
const ID = `web-${CLEAR}${LINK}\r1`;
const REASON = 'db \u202emigration\u202c \u0007';
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function project(): string {
  const dir = fixture({
    'reflex.yaml': `store: state.db
rules: [rules.yaml]
sources: [{ name: inv, kind: inventory, path: inv.json }]
actions: { fix: { kind: exec, argv: [node, -e, "1"] } }
`,
    'rules.yaml': 'rules:\n  - { name: repair, target: { kind: box }, when: { broken: facts.broken }, do: [{ action: fix }] }\n',
  });
  writeFileSync(join(dir, 'inv.json'), JSON.stringify({ targets: [{ id: ID, kind: 'box', labels: { team: `a${CLEAR}` }, facts: { broken: true } }] }));
  return dir;
}

describe('terminal output', () => {
  it('escapes what could steer a terminal, visibly', () => {
    expect(terminalSafe(`a${CLEAR}b\rc\u202ed\te\nf\u009b`)).toBe('a\\e[2Jb\\rc\\u202ed\te\nf\\x9b');
  });

  it('why, history, status, run and disable print no raw control character; --json keeps the exact values', () => {
    const dir = project();
    const outs: string[] = [];
    for (const args of [['run', '--dry-run'], ['why', ID], ['history'], ['disable', '--target', ID, '--reason', REASON], ['status']]) {
      const r = reflex(args, { cwd: dir });
      expect(r.status, `${args[0]}: ${r.out}`).toBe(0);
      expect(RAW.test(r.out), `${args[0]} printed a raw control character: ${JSON.stringify(r.out)}`).toBe(false);
      outs.push(r.out);
    }
    expect(outs[1]).toContain('web-\\e[2J\\e]8;;https://evil.example\\aclick\\e]8;;\\a\\r1');
    expect(outs[4]).toContain('db \\u202emigration\\u202c \\a');
    const json = JSON.parse(reflex(['status', '--json'], { cwd: dir }).stdout);
    expect(JSON.stringify(json)).toContain(JSON.stringify(REASON).slice(1, -1));
    const why = JSON.parse(reflex(['why', ID, '--json'], { cwd: dir }).stdout);
    expect(JSON.stringify(why)).toContain(JSON.stringify(ID).slice(1, -1));
  });
});
