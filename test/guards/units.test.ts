// The pure pieces of the guardrails: rounding of fractions, windows, expiry of switches, disables and cooldowns at their exact boundaries.
import { describe, expect, it } from 'vitest';
import { cooldownVerdict } from '../../src/guards/cooldown.js';
import { allowedByFraction, exceedsFraction, fractionText, parseLimit, percent, requiredByFraction, windowStart } from '../../src/guards/numbers.js';
import { disabledBy, switchOff } from '../../src/guards/switches.js';
import type { Decision } from '../../src/rules/evaluate.js';
import type { DisableRecord } from '../../src/store/types.js';

describe('numbers', () => {
  it('a fraction allows floor(fraction × size) targets, at least 1 above 0, none at 0', () => {
    expect(allowedByFraction(0.2, 7)).toBe(1); // 1.4
    expect(allowedByFraction(0.2, 10)).toBe(2);
    expect(allowedByFraction(0.2, 4)).toBe(1); // 0.8, at least 1
    expect(allowedByFraction(0.2, 1)).toBe(1);
    expect(allowedByFraction(0.29, 100)).toBe(29); // 28.999999999999996 in floating point
    expect(allowedByFraction(0.7, 10)).toBe(7);
    expect(allowedByFraction(1, 9)).toBe(9);
    expect(allowedByFraction(0, 9)).toBe(0);
  });

  it('a floor of healthy targets is rounded up: ceil(fraction × size)', () => {
    expect(requiredByFraction(0.5, 3)).toBe(2);
    expect(requiredByFraction(0.5, 4)).toBe(2);
    expect(requiredByFraction(0.3, 10)).toBe(3); // 3.0000000000000004 in floating point
    expect(requiredByFraction(0.75, 4)).toBe(3);
    expect(requiredByFraction(0, 4)).toBe(0);
  });

  it('"more than a fraction" is strict: 3 of 10 is not more than 30%, 4 is', () => {
    expect(exceedsFraction(3, 10, 0.3)).toBe(false);
    expect(exceedsFraction(4, 10, 0.3)).toBe(true);
    expect(exceedsFraction(29, 100, 0.29)).toBe(false);
    expect(exceedsFraction(30, 100, 0.29)).toBe(true);
  });

  it('percentages are for people: whole when exact, one decimal otherwise', () => {
    expect(percent(4, 10)).toBe('40%');
    expect(percent(1, 3)).toBe('33.3%');
    expect(percent(0, 0)).toBe('0%');
    expect(fractionText(0.295)).toBe('29.5%');
  });

  it('a window ending now starts one window ago, exclusive: (now - window, now]', () => {
    expect(windowStart(1_000_000, 600_000)).toBe(400_001);
    expect(parseLimit('5 per 10m')).toEqual({ max: 5, windowMs: 600_000, window: '10m' });
    expect(() => parseLimit('five per 10m')).toThrow();
  });
});

describe('expiry at the exact time', () => {
  const d = { rule: { name: 'r', steps: [{ action: 'fix' }] }, target: { id: 't', labels: { customer: 'acme' } } } as unknown as Decision;
  const disable = (o: Partial<DisableRecord>): DisableRecord => ({
    id: 1,
    scope: 'target',
    value: 't',
    selector: null,
    by: 'ann',
    reason: 'r',
    createdAt: 0,
    until: null,
    removedAt: null,
    removedBy: null,
    ...o,
  });

  it('a disable applies until one millisecond before its end, and not at its end, nor once lifted', () => {
    expect(disabledBy(d, [disable({ until: 100 })], 99)?.reason).toBe('disabled:target');
    expect(disabledBy(d, [disable({ until: 100 })], 100)).toBeNull();
    expect(disabledBy(d, [disable({ removedAt: 50 })], 60)).toBeNull();
  });

  it('a selector disable needs every label; an empty selector matches nothing', () => {
    expect(disabledBy(d, [disable({ scope: 'selector', value: 'customer=acme', selector: { customer: 'acme' } })], 0)?.reason).toBe('disabled:selector');
    expect(disabledBy(d, [disable({ scope: 'selector', value: 'customer=acme,region=eu', selector: { customer: 'acme', region: 'eu' } })], 0)).toBeNull();
    expect(disabledBy(d, [disable({ scope: 'selector', value: '', selector: {} })], 0)).toBeNull();
  });

  it('the off switch is off until its end, and on at its end', () => {
    const s = { off: true, by: 'ann', reason: 'r', at: 0, until: 100 };
    expect(switchOff(s, 99)).toBe(true);
    expect(switchOff(s, 100)).toBe(false);
    expect(switchOff({ ...s, until: null }, 1e15)).toBe(true);
    expect(switchOff({ ...s, off: false }, 0)).toBe(false);
  });

  it('a cooldown holds until one millisecond before its end, and has ended at its end', () => {
    expect(cooldownVerdict('fix', 't', { lastAt: 0, until: 100 }, 99)).toBe('cooling down: fix ran on t 99ms ago; cooldown 100ms, 1ms left');
    expect(cooldownVerdict('fix', 't', { lastAt: 0, until: 100 }, 100)).toBeNull();
    expect(cooldownVerdict('fix', 't', null, 100)).toBeNull();
  });
});
