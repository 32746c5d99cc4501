// `reflex check` refuses regular expressions RE2 cannot read, each at its file:line:col, all at once, without a stack trace.
import { describe, expect, it } from 'vitest';
import { fixture, reflex } from '../helpers.js';

const CONFIG = `rules: [rules.yaml]
sources:
  - name: health
    kind: command
    argv: [node, health.mjs]
    facts: [up, name]
actions:
  restart: { kind: exec, argv: ["true"] }
channels:
  oncall: { kind: log }
defaults: { escalate_to: oncall }
`;

const RULES = `rules:
  - name: restart-web
    target: { kind: instance }
    when:
      down: facts.up == 0
      not_canary: '!target.id.matches("^web-(?!canary)")'
      named: facts.name.matches("a{2,1}") || facts.name.matches("[[:foo:]]")
      re2_only: target.id.matches("(?i)\\\\Aweb-[[:digit:]]+\\\\z")
    do: [{ action: restart }]
`;

describe('reflex check and RE2', () => {
  it('reports every refused pattern at its position and accepts RE2-only syntax', () => {
    const r = reflex(['check'], { cwd: fixture({ 'reflex.yaml': CONFIG, 'rules.yaml': RULES }), env: { NO_COLOR: '1' } });
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      'rules.yaml:6:45: rule "restart-web", when "not_canary": invalid RE2 regular expression: invalid or unsupported Perl syntax: `(?!`',
      'rules.yaml:7:35: rule "restart-web", when "named": invalid RE2 regular expression: invalid repeat count: `{2,1}`',
      'rules.yaml:7:67: rule "restart-web", when "named": invalid RE2 regular expression: invalid character class range: `[:foo:]`',
      '3 errors',
    ]);
    expect(r.out).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
    expect(r.status).toBe(2);
  });
});
