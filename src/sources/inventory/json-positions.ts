// Where a path points in a JSON text, found by scanning the text itself: a 100,000-entry inventory with mistakes gets positions in milliseconds, without building a YAML tree of it.
import type { DocPath } from '../shape.js';

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Finds offsets of paths in one valid JSON text; element offsets of each list are found once and kept. */
export class JsonPositions {
  private readonly elements = new Map<number, number[]>();
  constructor(private readonly text: string) {}

  /** The offset of the value at `path` (of its key, with `key`), or of the deepest part of the path that exists. */
  offset(path: DocPath, key = false): number {
    let at = this.skipWs(0);
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const c = this.text.charCodeAt(at);
      if (c === 0x5b /* [ */) {
        const el = this.elementsOf(at)[Number(seg)];
        if (el === undefined) return at;
        at = el;
      } else if (c === 0x7b /* { */) {
        const found = this.member(at, String(seg));
        if (!found) return at;
        if (key && i === path.length - 1) return found.key;
        at = found.value;
      } else return at;
    }
    return at;
  }

  private skipWs(i: number): number {
    while (i < this.text.length && WS.has(this.text.charCodeAt(i))) i++;
    return i;
  }

  /** The end of the string starting at `i` (the offset after its closing quote). */
  private skipString(i: number): number {
    const t = this.text;
    for (let j = i + 1; j < t.length; j++) {
      const c = t.charCodeAt(j);
      if (c === 0x5c /* \ */) j++;
      else if (c === 0x22 /* " */) return j + 1;
    }
    return t.length;
  }

  /** The end of the value starting at `i`; iterative, so any nesting costs no stack. */
  private skipValue(i: number): number {
    const t = this.text;
    let depth = 0;
    let j = i;
    do {
      const c = t.charCodeAt(j);
      if (c === 0x22) {
        j = this.skipString(j);
        continue;
      }
      if (c === 0x5b || c === 0x7b) depth++;
      else if (c === 0x5d || c === 0x7d) depth--;
      else if (depth === 0) {
        // A number, true, false or null: up to the next delimiter.
        while (j < t.length && !WS.has(t.charCodeAt(j)) && ',]}'.indexOf(t[j]!) < 0) j++;
        return j;
      }
      j++;
    } while (depth > 0 && j < t.length);
    return j;
  }

  private elementsOf(start: number): number[] {
    let list = this.elements.get(start);
    if (list) return list;
    list = [];
    let j = this.skipWs(start + 1);
    if (this.text[j] !== ']') {
      while (j < this.text.length) {
        list.push(j);
        j = this.skipWs(this.skipValue(j));
        if (this.text[j] !== ',') break;
        j = this.skipWs(j + 1);
      }
    }
    this.elements.set(start, list);
    return list;
  }

  private member(start: number, name: string): { key: number; value: number } | undefined {
    const t = this.text;
    let j = this.skipWs(start + 1);
    while (j < t.length && t[j] === '"') {
      const keyAt = j;
      const end = this.skipString(j);
      let k: string;
      try {
        k = JSON.parse(t.slice(j, end)) as string;
      } catch {
        return undefined;
      }
      j = this.skipWs(end);
      if (t[j] !== ':') return undefined;
      const valueAt = this.skipWs(j + 1);
      if (k === name) return { key: keyAt, value: valueAt };
      j = this.skipWs(this.skipValue(valueAt));
      if (t[j] !== ',') return undefined;
      j = this.skipWs(j + 1);
    }
    return undefined;
  }
}

/** Line and column (1-based) of an offset, given the offsets where lines start. */
export function lineColAt(lineStarts: number[], offset: number): { line: number; col: number } {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - lineStarts[lo]! + 1 };
}

export function lineStartsOf(text: string): number[] {
  const out = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) out.push(i + 1);
  return out;
}
