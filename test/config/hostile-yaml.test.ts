// No exit 70 from user input: whatever a configuration or rule file holds, `reflex check` (and so every command)
// answers with exit 0 or 2 and a position, never an internal error, a stack trace or a hang.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, reflex } from '../helpers.js';

function checkRules(rules: string | Buffer) {
  const dir = fixture({
    'reflex.yaml': 'rules: [rules.yaml]\nsources: [{ name: inv, kind: inventory, path: inv.yaml }]\n',
    'inv.yaml': 'targets: []\n',
  });
  writeFileSync(join(dir, 'rules.yaml'), rules);
  return reflex(['check'], { cwd: dir });
}

const bomb = () => {
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++)
    lines.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  return `${lines.join('\n')}\nrules: []\n`;
};

describe('hostile YAML', () => {
  it.each([
    ['an undefined alias', 'rules:\n  - name: a\n    target: *nope\n', /^rules\.yaml:3:13: YAML aliases are not supported here; repeat the value instead$/m],
    ['an alias bomb', bomb(), /^rules\.yaml:2:\d+: YAML aliases are not supported here/m],
    ['nesting 20,000 deep', `rules: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`, /^rules\.yaml:1:\d+: the document is nested too deeply to read$/m],
    ['a tab as indentation', 'rules:\n\t- name: a\n', /^rules\.yaml:2:1: Tabs are not allowed as indentation$/m],
    ['binary garbage', Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256)), /^rules\.yaml:\d+:\d+: /m],
    ['a file of 5 MiB', `rules:\n  - name: ${'a'.repeat(5 << 20)}\n`, /^rules\.yaml:1:1: the file is 5\.0 MiB; Reflex reads files of at most 4\.0 MiB here$/m],
  ])('%s: exit 2 with a position, no internal error', (_name, text, expected) => {
    const r = checkRules(text);
    expect(r.status, r.out).toBe(2);
    expect(r.stdout).toMatch(expected);
    expect(r.out).not.toMatch(/internal error|\n\s+at /);
    expect(r.out.length).toBeLessThan(5000); // a huge value is never echoed
  });

  it.each([
    ['a byte order mark', '\uFEFFrules: []\n'],
    ['CRLF line ends', 'rules: []\r\n'],
  ])('%s is read as the same file without it', (_name, text) => {
    const r = checkRules(text);
    expect(r.status, r.out).toBe(0);
  });
});
