// The ids (or names) nearest to one that was mistyped: by edit distance, then by a shared beginning, then by name.

/**
 * Up to `n` candidates close to `word`, nearest first. Close means within a third of the longer name's length
 * (at least 2 edits), or starting with `word` (an abbreviation: `web` finds `web-1`, `web-2`).
 */
export function nearestIds(word: string, candidates: Iterable<string>, n: number): string[] {
  const w = word.toLowerCase();
  const scored: { id: string; d: number }[] = [];
  for (const c of candidates) {
    const l = c.toLowerCase();
    const limit = Math.max(2, Math.floor(Math.max(w.length, l.length) / 3));
    const prefix = w.length >= 2 && (l.startsWith(w) || w.startsWith(l));
    // The length difference alone rules most of a large fleet out before any distance is computed.
    if (!prefix && Math.abs(l.length - w.length) > limit) continue;
    const d = distance(w, l, prefix ? Infinity : limit);
    if (d <= limit) scored.push({ id: c, d });
    else if (prefix) scored.push({ id: c, d: limit + 1 });
  }
  scored.sort((a, b) => a.d - b.d || a.id.localeCompare(b.id, 'en', { numeric: true }));
  return scored.slice(0, n).map((s) => s.id);
}

/** Levenshtein distance, giving up (returning `bound + 1`) once every path is longer than `bound`. */
function distance(a: string, b: string, bound: number): number {
  if (a === b) return 0;
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let best = cur[0];
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (cur[j]! < best) best = cur[j]!;
    }
    if (best > bound) return bound + 1;
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}
