// Where each character of a CEL string literal's value sits in its source text (to point into a regex).

/**
 * For the source text of a CEL string literal (`"a\\d"`, `r'a\d'`, `"""…"""`), the
 * offset in that text of each UTF-16 unit of the literal's value, plus one entry for
 * the end: `map[i]` is where value[i] starts. Null for what is not a string literal.
 */
export function literalOffsets(raw: string): number[] | null {
  let i = 0;
  let isRaw = false;
  if (raw[i] === 'r' || raw[i] === 'R') {
    isRaw = true;
    i++;
  }
  const q = raw[i];
  if (q !== '"' && q !== "'") return null;
  const triple = raw.startsWith(q.repeat(3), i);
  const quote = triple ? q.repeat(3) : q;
  i += quote.length;
  const end = raw.length - quote.length;
  if (end < i || !raw.endsWith(quote)) return null;
  const map: number[] = [];
  while (i < end) {
    const c = raw[i]!;
    if (c !== '\\' || isRaw) {
      map.push(i);
      i++;
      continue;
    }
    const e = raw[i + 1];
    let len = 2;
    let units = 1;
    if (e === 'x' || e === 'X') len = 4;
    else if (e === 'u') len = 6;
    else if (e === 'U') {
      len = 10;
      const cp = Number.parseInt(raw.slice(i + 2, i + 10), 16);
      units = cp > 0xffff ? 2 : 1;
    } else if (e !== undefined && e >= '0' && e <= '3') len = 4;
    for (let u = 0; u < units; u++) map.push(i);
    i += len;
  }
  map.push(end);
  return map;
}
