// Static checks for `reflex check`: problems in action configuration and step params found before any target is seen.
import { describe, expect, it } from 'vitest';
import { checkAction, checkStepParams, durationMs, planAction } from '../../src/actions/index.js';
import { exec, http, planCtx } from './helpers.js';

describe('checkAction', () => {
  it('accepts a sound action', () => {
    expect(
      checkAction('restart', exec({ argv: ['systemctl', 'restart', '{{ params.unit }}'], params: { unit: { pattern: '[a-z0-9-]+\\.service' } } })),
    ).toEqual([]);
    expect(
      checkAction('drain', http({ url: 'https://lb.example.com/pools/{{ labels.service }}?id={{ target.id }}', body: { id: '{{ target.id }}' } })),
    ).toEqual([]);
  });

  it('finds a placeholder in the program, malformed templates and undeclared params', () => {
    const problems = checkAction('bad', exec({ argv: ['{{ labels.tool }}', '{{ facts.x | upper }}', '{{ params.unit }}', '{{ labels.unit'] }));
    expect(problems).toEqual([
      'action bad, argv[1]: invalid placeholder {{ facts.x | upper }}: only dotted paths such as {{ labels.unit }} or {{ facts.restarts }} are allowed (no expressions or filters)',
      'action bad, argv[2]: {{ params.unit }} is not a declared param (declare it under params:)',
      expect.stringMatching(/^action bad, argv\[3\]: unclosed placeholder/),
      'action bad, argv[0]: the program must be written literally, without placeholders',
    ]);
  });

  it('finds a placeholder in the host, an invalid pattern, a GET body and placeholder keys', () => {
    const problems = checkAction(
      'bad',
      http({ method: 'GET', url: 'http://{{ labels.host }}/x', params: { p: { pattern: '([a-z' } }, body: { '{{ target.id }}': 1 } }),
    );
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/param p: invalid pattern/);
    expect(problems.join('\n')).toMatch(/scheme, host or port/);
    expect(problems.join('\n')).toMatch(/values, not keys/);
    expect(problems.join('\n')).toMatch(/GET request cannot have a body/);
  });
});

describe('checkStepParams', () => {
  const action = exec({ argv: ['systemctl', '{{ params.verb }}', '{{ params.unit }}'], params: { verb: { pattern: 'restart|reload' }, unit: {} } });
  it('accepts a step that gives every param the action uses', () => {
    expect(checkStepParams('svc', action, { verb: 'restart', unit: '{{ labels.unit }}' })).toEqual([]);
  });
  it('finds unknown, missing and self-referring params', () => {
    expect(checkStepParams('svc', action, { verb: '{{ params.unit }}', extra: 'x' })).toEqual([
      'with.verb: {{ params.unit }} may not refer to another param',
      'with.extra: action svc has no param "extra"',
      'action svc uses {{ params.unit }} but the step gives no with.unit',
    ]);
  });
});

describe('timeouts', () => {
  it('reads the action timeout, else the default', () => {
    expect(durationMs('1h30m')).toBe(5_400_000);
    expect(durationMs('250ms')).toBe(250);
    expect(() => durationMs('soon')).toThrow(/invalid duration/);
    expect(planAction('x', exec({ argv: ['true'], timeout: '5s' }), planCtx()).timeoutMs).toBe(5000);
    expect(planAction('x', exec({ argv: ['true'] }), planCtx()).timeoutMs).toBe(10_000);
  });
});

describe('param patterns are RE2, as matches() is', () => {
  const restart = (pattern: string) => exec({ argv: ['systemctl', 'restart', '{{ params.unit }}'], params: { unit: { pattern } } });
  const plan = (pattern: string, unit: string) => () => planAction('restart', restart(pattern), planCtx(undefined, { with: { unit } }));

  it('POSIX classes mean what they mean in Go and Prometheus (in JavaScript, [[:alnum:]]+ accepted "a]")', () => {
    expect(() => plan('[[:alnum:]-]+', 'web-1')()).not.toThrow();
    expect(plan('[[:alnum:]-]+', 'a]')).toThrow(/does not match/);
  });

  it('a pattern that does not stand on its own is refused, so it cannot escape the anchors', () => {
    expect(checkAction('restart', restart('[a-z]+)|(.*'))).toEqual([expect.stringMatching(/^action restart, param unit: invalid pattern/)]);
    expect(plan('[a-z]+)|(.*', 'x; rm -rf /')).toThrow(/invalid pattern/);
  });

  it('what RE2 cannot read (a lookahead) is a check error', () => {
    expect(checkAction('restart', restart('(?!admin)[a-z]+'))).toEqual([expect.stringMatching(/invalid pattern .*RE2/)]);
  });
});
