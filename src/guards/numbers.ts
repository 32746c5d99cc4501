// How guardrails turn fractions, windows and limits into whole numbers, in one place (docs/guardrails.md, "Numbers").
import { parseDuration } from '../util/duration.js';

/**
 * Floating point makes 0.29 * 100 = 28.999999999999996; every comparison of a fraction with a count goes
 * through this tolerance so that "29% of 100" is 29, as people compute it.
 */
const EPS = 1e-9;

/**
 * How many targets of a group of `size` a fraction allows: floor(fraction × size), but at least 1 when the
 * fraction is above 0 (a 20% limit on a group of 4 would otherwise forbid acting on that group at all,
 * and a group of one target could never be repaired). A fraction of 0 allows none.
 */
export function allowedByFraction(fraction: number, size: number): number {
  if (fraction <= 0) return 0;
  return Math.max(1, Math.floor(fraction * size + EPS));
}

/** How many targets of a group of `size` must stay healthy: ceil(fraction × size) (a floor of 50% of 3 keeps 2). */
export function requiredByFraction(fraction: number, size: number): number {
  if (fraction <= 0) return 0;
  return Math.ceil(fraction * size - EPS);
}

/** `count` of `size` is strictly more than `fraction` of it (30% of 10 is 3: 3 is not more, 4 is). */
export function exceedsFraction(count: number, size: number, fraction: number): boolean {
  return count > fraction * size + EPS;
}

/** `40%`, `33.3%`: for explanations only (decisions are made on counts, never on rounded percentages). */
export function percent(count: number, size: number): string {
  return size === 0 ? '0%' : fractionText(count / size);
}

export function fractionText(f: number): string {
  return `${Number((f * 100).toFixed(1))}%`;
}

/** "5 per 10m" -> { max: 5, windowMs: 600000, window: "10m" }. The schema has already checked the shape. */
export function parseLimit(text: string): { max: number; windowMs: number; window: string } {
  const m = /^(\d+) per (.+)$/.exec(text.trim());
  if (!m) throw new Error(`invalid limit "${text}" (expected "N per DURATION")`);
  return { max: Number(m[1]), windowMs: parseDuration(m[2]!), window: m[2]! };
}

/**
 * The first moment still inside a window that ends now. An execution exactly one window ago has left it
 * (as a cooldown whose end equals now has ended): windows are (now - window, now].
 */
export function windowStart(now: number, windowMs: number): number {
  return now - windowMs + 1;
}
