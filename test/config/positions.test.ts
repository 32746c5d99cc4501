// In-process checks of the pieces behind file:line:col: scalar offsets, suggestions, templates, partial loading.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isScalar, type Scalar } from 'yaml';
import { checkProject, scanTemplate, sortDiagnostics } from '../../src/check/index.js';
import { formatDiagnostic, scalarValueOffset, suggest } from '../../src/config/diagnostics.js';
import { loadProject } from '../../src/config/load.js';
import { parseYamlFile } from '../../src/config/yaml.js';
import { fixture } from '../helpers.js';

/** Line and column of character `index` of the value under key `key` in a one-document YAML text. */
function where(text: string, key: string, index: number): string {
  const { file } = parseYamlFile('t.yaml', text);
  const node = file.nodeAt([key]);
  if (!node || !isScalar(node)) throw new Error(`no scalar at ${key}`);
  const { line, col } = file.pos(scalarValueOffset(text, node as Scalar, index));
  return `${line}:${col}`;
}

describe('scalarValueOffset: a character of a value, found in the file', () => {
  it('plain scalars map one to one', () => {
    expect(where('a: facts.up == 0\n', 'a', 6)).toBe('1:10');
  });

  it('double quotes and escapes are skipped', () => {
    // value: say "hi" == x   (the \" escapes are two characters in the file, one in the value)
    expect(where('a: "say \\"hi\\" == x"\n', 'a', 12)).toBe('1:19');
  });

  it("single quotes and doubled '' are skipped", () => {
    expect(where("a: 'it''s x'\n", 'a', 5)).toBe('1:11');
  });

  it('literal blocks keep lines and strip the block indentation', () => {
    const text = 'a: |\n  first &&\n    second\n';
    expect(where(text, 'a', 0)).toBe('2:3');
    // value: "first &&\n  second\n": "second" starts at 11
    expect(where(text, 'a', 11)).toBe('3:5');
  });

  it('folded blocks and multi-line plain scalars fold line breaks into spaces', () => {
    expect(where('a: >\n  one &&\n  two\n', 'a', 7)).toBe('3:3');
    expect(where('a: one &&\n  two\n', 'a', 7)).toBe('2:3');
  });

  it('an offset past the end points just after the last character', () => {
    expect(where('a: "x &&"\n', 'a', 4)).toBe('1:9');
  });
});

describe('suggest', () => {
  it('offers close spellings and unambiguous abbreviations, nothing for unrelated words', () => {
    expect(suggest('cooldwon', ['cooldown', 'timeout'])).toBe('cooldown');
    expect(suggest('warn', ['info', 'warning', 'critical'])).toBe('warning');
    expect(suggest('prom', ['prometheus', 'inventory'])).toBe('prometheus');
    expect(suggest('zebra', ['cooldown', 'timeout'])).toBeUndefined();
  });
});

describe('scanTemplate', () => {
  it('finds each placeholder with its offset and what is wrong with it', () => {
    const p = scanTemplate('x-{{ lables.a }}-{{ target.id }}-\\{{ literal }}-{{ oops');
    expect(p.map((x) => [x.at, x.problem ?? 'ok'])).toEqual([
      [2, '{{ lables.a }}: unknown scope "lables", did you mean "labels"?'],
      [17, 'ok'],
      [48, 'unclosed placeholder "{{" (close it with "}}", or write \\{{ for a literal "{{")'],
    ]);
  });
});

describe('parseYamlFile', () => {
  it('reports duplicate keys at every level with the line of the first, and keeps going', () => {
    const r = parseYamlFile('t.yaml', 'a: 1\nb:\n  c: 1\n  c: 2\na: 3\n');
    expect(r.fatal).toBe(false);
    expect(sortDiagnostics(r.diagnostics).map(formatDiagnostic)).toEqual([
      't.yaml:4:3: duplicate key "c" (first at line 3); YAML keeps only one of them',
      't.yaml:5:1: duplicate key "a" (first at line 1); YAML keeps only one of them',
    ]);
  });
});

describe('loading and checking a project with some broken entries', () => {
  const files = {
    'reflex.yaml': 'rules: [rules/*.yaml]\nchannels: { oncall: { kind: log } }\n',
    'rules/a.yaml': [
      'aggregates:',
      '  - { name: broken_agg, of: instance, group_by: [service], function: fractoin }',
      'rules:',
      '  - name: broken',
      '    target: { kind: instance }',
      '    derive: is_bad',
      '    when: { x: "facts.up == 0" }',
      '    sevrity: critical',
      '  - name: fine-but-wrong',
      '    target: { kind: instance }',
      '    when: { bad: facts.is_bad && agg.broken_agg > 0.5, typo: "facts.up =! 0" }',
      '    escalate: oncal',
      '',
    ].join('\n'),
  };

  it('reports the broken entries, checks the others, and does not report references to the broken ones', async () => {
    const dir = fixture(files);
    const r = loadProject(join(dir, 'reflex.yaml'), {});
    expect(r.project).toBeUndefined();
    expect(r.partial?.rules.map((x) => x.name)).toEqual(['fine-but-wrong']);
    const checked = await checkProject(r.partial!, r.partial!.broken);
    const errors = [...r.diagnostics, ...checked.diagnostics].filter((d) => d.severity === 'error');
    const msgs = sortDiagnostics(errors).map((d) => formatDiagnostic({ ...d, file: 'a.yaml' }));
    expect(msgs).toEqual([
      'a.yaml:2:70: "function" must be one of count, fraction, sum, avg, min, max, not the text "fractoin", did you mean "fraction"?',
      'a.yaml:8:5: unknown field "sevrity", did you mean "severity"?',
      expect.stringMatching(/^a\.yaml:11:\d+: rule "fine-but-wrong", when "typo": /),
      'a.yaml:12:15: unknown channel "oncal", did you mean "oncall"?',
    ]);
  });
});

describe('target kinds', () => {
  it('warns when no source reports the kind a rule or aggregate is for, when every source can say', async () => {
    const files = {
      'reflex.yaml': 'rules: [r.yaml]\nsources: [{ name: inv, kind: inventory, path: inv.yaml }]\nchannels: { oncall: { kind: log } }\n',
      'inv.yaml': 'targets:\n  - { id: a, kind: instance, facts: { up: 1 } }\n',
      'r.yaml': [
        'aggregates:',
        '  - { name: down_count, of: instances, group_by: all, function: count, where: "facts.up == 0" }',
        'rules:',
        '  - { name: r, target: { kind: instnace }, when: { down: "facts.up == 0" }, escalate: oncall }',
        '',
      ].join('\n'),
    };
    const r = loadProject(join(fixture(files), 'reflex.yaml'), {});
    const checked = await checkProject(r.project!);
    expect(sortDiagnostics(checked.diagnostics).map((d) => formatDiagnostic({ ...d, file: 'r.yaml' }))).toEqual([
      'r.yaml:2:29: warning: aggregate "down_count" has no members: no source reports targets of kind "instances", did you mean "instance"?',
      'r.yaml:4:32: warning: rule "r" can never match: no source reports targets of kind "instnace", did you mean "instance"?',
    ]);
  });

  it('says nothing when a source cannot tell its kinds in advance (a command)', async () => {
    const files = {
      'reflex.yaml': 'rules: [r.yaml]\nsources: [{ name: c, kind: command, argv: [x], facts: [up] }]\nchannels: { oncall: { kind: log } }\n',
      'r.yaml': 'rules:\n  - { name: r, target: { kind: instnace }, when: { down: "facts.up == 0" }, escalate: oncall }\n',
    };
    const r = loadProject(join(fixture(files), 'reflex.yaml'), {});
    expect((await checkProject(r.project!)).diagnostics).toEqual([]);
  });
});
