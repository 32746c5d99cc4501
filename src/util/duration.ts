// Durations as people write them in config ("30s", "1h30m", "7d") and as Reflex prints them.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** Parse a duration such as `30s`, `5m`, `1h30m`; throws on anything else. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (!/^((\d+(?:\.\d+)?)(ms|s|m|h|d))+$/.test(t)) throw new Error(`invalid duration "${text}" (expected e.g. 30s, 5m, 1h30m, 7d)`);
  let total = 0;
  for (const m of t.matchAll(PART)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(total);
}

/** Format milliseconds compactly: 90000 -> "1m30s", 600000 -> "10m". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [u, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${u}`);
      s %= size;
    }
  }
  return parts.join('') || '0s';
}

/** Parse "--until" values: a duration from now ("2h") or an ISO date/time. */
export function parseUntil(text: string, now: number): number {
  if (/^((\d+(?:\.\d+)?)(ms|s|m|h|d))+$/.test(text.trim())) return now + parseDuration(text);
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`invalid time "${text}" (expected a duration such as 2h, or an ISO time such as 2026-12-01T18:00:00Z)`);
  return t;
}
