// The reproductions of issue 13.5 through the real CLI: hostile data from a live source costs its own records' facts, never the run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, reflex } from '../helpers.js';

const DEEP = 100_000;

/** A command source printing one healthy-looking target per kind of hostile record, and one plain broken target. */
const SOURCE = `const deep = '['.repeat(${DEEP}) + ']'.repeat(${DEEP});
process.stdout.write('{"targets": [' + [
  '{"id": "web-ok", "kind": "instance", "facts": {"unhealthy": true, "restarts": 1}}',
  '{"id": "web-deep", "kind": "instance", "facts": {"unhealthy": true, "restarts": 1, "blob": ' + deep + '}}',
  '{"id": "web-inf", "kind": "instance", "facts": {"unhealthy": true, "restarts": -1e400}}',
  '{"id": "web-proto", "kind": "instance", "labels": {"__proto__": "x"}, "facts": {"unhealthy": true, "restarts": 1}}',
  '{"id": "web-typo", "kind": "instance", "lables": {"customer": "gold"}, "facts": {"unhealthy": true, "restarts": 1}}',
].join(',') + ']}');
`;

const CONFIG = `rules: [rules/*.yaml]
sources:
  - name: live
    kind: command
    argv: [node, live.mjs]
    facts: { unhealthy: bool, restarts: number }
actions:
  restart:
    kind: exec
    argv: [node, acted.mjs, "{{ params.instance }}"]
    params: { instance: { pattern: "[a-z0-9-]+" } }
channels:
  oncall: { kind: log, path: escalations.jsonl }
defaults:
  mode: enforce
  escalate_to: oncall
guardrails:
  widespread: { fraction: 1, min_targets: 100 }
  blast_radius: { group_fraction: 1 }
`;

const RULES = `rules:
  - name: restart-unhealthy
    target: { kind: instance }
    when:
      unhealthy: facts.unhealthy
      few_restarts: facts.restarts < 3
    do:
      - action: restart
        with: { instance: "{{ target.id }}" }
`;

describe('hostile data from a live source, through reflex run', () => {
  it('run goes on, acts only where the facts are sound, counts the malformed records, and why names each reason', () => {
    const dir = fixture({
      'reflex.yaml': CONFIG,
      'rules/r.yaml': RULES,
      'live.mjs': SOURCE,
      'acted.mjs': `import { appendFileSync } from 'node:fs'; appendFileSync('acted.txt', process.argv[2] + '\\n');`,
    });
    expect(reflex(['check'], { cwd: dir }).status).toBe(0);
    for (let i = 0; i < 2; i++) {
      // The data persists: the next run must not fail either.
      const run = reflex(['run'], { cwd: dir });
      expect(run.out).not.toMatch(/internal error|Maximum call stack|\n\s+at /);
      expect(run.status).toBe(1);
      expect(run.stdout).toContain('source live (command): ok, 5 targets, 4 malformed records (facts unknown)');
      expect(run.stdout).toMatch(/UNKNOWN +restart-unhealthy +web-inf +"few_restarts" is unknown: .*out of range \(-Infinity/);
      expect(run.stdout).toMatch(
        /UNKNOWN +restart-unhealthy +web-typo +.*malformed entry: node output targets\[4\]\.lables: unknown field `lables`, did you mean `labels`\?/,
      );
      expect(run.stdout).toMatch(/problem: source "live": 4 malformed records, facts unknown there/);
    }
    // web-deep's other facts are sound: only its 100,000-deep fact is unknown, and the rule does not read it.
    expect(readFileSync(join(dir, 'acted.txt'), 'utf8').split('\n').filter(Boolean).sort()).toEqual(['web-deep', 'web-ok']);

    const inf = reflex(['why', 'web-inf'], { cwd: dir });
    expect(inf.status).toBe(0);
    expect(inf.stdout).toMatch(/restarts.*out of range \(-Infinity/);
    expect(inf.stdout).not.toMatch(/restarts = null/);
    expect(reflex(['why', 'web-deep'], { cwd: dir }).status).toBe(0);
    const typo = reflex(['why', 'web-typo', '--json'], { cwd: dir });
    expect(typo.status).toBe(0);
    expect(typo.stdout).toContain('unknown field `lables`, did you mean `labels`?');
    expect(reflex(['why', 'web-proto'], { cwd: dir }).stdout).toContain('`__proto__` is not allowed as a label name');

    const json = reflex(['run', '--json', '--dry-run'], { cwd: dir });
    const doc = JSON.parse(json.stdout) as { summary?: { sources: { malformed?: number }[] }; sources?: { malformed?: number }[] };
    const sources = doc.summary?.sources ?? doc.sources;
    expect(sources?.[0]?.malformed).toBe(4);
  });
});
