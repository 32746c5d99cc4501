// Configuration problems as data: each with file:line:col, collected all at once and printed together.
import { isMap, isScalar, isSeq, type LineCounter, type Document, type Node, type Scalar } from 'yaml';

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
  severity: 'error' | 'warning';
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  return `${where}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}

/** A parsed YAML file with what is needed to point at any path inside it. */
export class SourceFile {
  constructor(
    readonly path: string,
    readonly doc: Document.Parsed,
    readonly lines: LineCounter,
    /** The file's text, to map a character inside a quoted, folded or block scalar to its column. */
    readonly text = '',
  ) {}

  /** The node at a path, or the deepest ancestor that exists (so a missing key points at its parent). */
  nodeAt(path: readonly PropertyKey[], preferKey = false): Node | null {
    let node: unknown = this.doc.contents;
    let keyNode: Node | null = null;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return keyNode ?? (node as Node);
        keyNode = isScalar(pair.key) ? (pair.key as Node) : null;
        node = pair.value ?? pair.key;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) return node as Node;
        keyNode = null;
        node = item;
      } else {
        break;
      }
    }
    if (preferKey && keyNode) return keyNode;
    return (node as Node) ?? null;
  }

  pos(offset: number): { line: number; col: number } {
    const p = this.lines.linePos(offset);
    return { line: p.line, col: p.col };
  }

  diagAt(node: Node, message: string, severity: 'error' | 'warning' = 'error'): Diagnostic {
    const { line, col } = this.pos(node.range?.[0] ?? 0);
    return { file: this.path, line, col, message, severity };
  }

  /**
   * A diagnostic at a path. `offset` counts raw characters from the node's start;
   * `valueOffset` counts characters of the scalar's value (what an expression
   * parser sees) and is mapped through quotes, escapes, folding and indentation.
   */
  at(
    path: readonly PropertyKey[],
    message: string,
    opts: { key?: boolean; severity?: 'error' | 'warning'; offset?: number; valueOffset?: number } = {},
  ): Diagnostic {
    const node = this.nodeAt(path, opts.key);
    let start = (node?.range?.[0] ?? 0) + (opts.offset ?? 0);
    if (opts.valueOffset !== undefined && node && isScalar(node)) start = scalarValueOffset(this.text, node, opts.valueOffset);
    const { line, col } = this.pos(start);
    return { file: this.path, line, col, message, severity: opts.severity ?? 'error' };
  }
}

type Unit = { ch: string; at: number };

const ESCAPES: Record<string, string> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  t: '\t',
  '\t': '\t',
  n: '\n',
  v: '\v',
  f: '\f',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  N: '\x85',
  _: '\xa0',
  L: '\u2028',
  P: '\u2029',
};

/** The characters a scalar's source contributes to its value, each with its offset in the file. */
function scalarUnits(text: string, node: Scalar): Unit[] {
  const [start, end] = node.range ?? [0, 0];
  const units: Unit[] = [];
  const type = node.type;
  if (type === 'QUOTE_DOUBLE') {
    for (let i = start + 1; i < end - 1; i++) {
      const c = text[i]!;
      if (c !== '\\') {
        units.push({ ch: c, at: i });
        continue;
      }
      const e = text[i + 1] ?? '';
      const hex = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      if (hex) {
        units.push({ ch: String.fromCodePoint(parseInt(text.slice(i + 2, i + 2 + hex), 16) || 0), at: i });
        i += 1 + hex;
      } else if (e === '\n' || e === '\r') {
        i += 1; // a line continuation: contributes nothing
      } else {
        units.push({ ch: ESCAPES[e] ?? e, at: i });
        i += 1;
      }
    }
  } else if (type === 'QUOTE_SINGLE') {
    for (let i = start + 1; i < end - 1; i++) {
      units.push({ ch: text[i]!, at: i });
      if (text[i] === "'" && text[i + 1] === "'") i++;
    }
  } else if (type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') {
    let i = text.indexOf('\n', start);
    if (i < 0 || i >= end) return units;
    i++;
    // The indentation of the first non-empty line is the block's (explicit indentation indicators aside).
    let indent = -1;
    while (i < end) {
      let lineEnd = text.indexOf('\n', i);
      if (lineEnd < 0 || lineEnd > end) lineEnd = end;
      const line = text.slice(i, lineEnd);
      if (indent < 0 && line.trim() !== '') indent = line.length - line.trimStart().length;
      for (let k = Math.min(Math.max(indent, 0), line.length); k < line.length; k++) units.push({ ch: line[k]!, at: i + k });
      if (lineEnd < end) units.push({ ch: '\n', at: lineEnd });
      i = lineEnd + 1;
    }
  } else {
    for (let i = start; i < end; i++) units.push({ ch: text[i]!, at: i });
  }
  return units;
}

/**
 * The file offset of character `index` of a scalar's value. The value is the
 * source with quotes, escapes, indentation and line folding removed, so the
 * source's characters are matched to the value's in order; a line break in the
 * source may stand for a space or a line break of the value.
 */
export function scalarValueOffset(text: string, node: Scalar, index: number): number {
  const start = node.range?.[0] ?? 0;
  if (!text) return start + index;
  const value = String(node.value ?? '');
  const units = scalarUnits(text, node);
  const matches = (u: string, c: string) => u === c || (u === '\n' && c === ' ');
  let j = 0;
  const upTo = Math.min(Math.max(index, 0), value.length);
  for (let i = 0; i <= upTo; i++) {
    if (i === value.length) break;
    let k = j;
    while (k < units.length && !matches(units[k]!.ch, value[i]!)) k++;
    if (k === units.length) break;
    if (i === upTo) return units[k]!.at;
    j = k + 1;
  }
  // Past the end of the value (an error at the end of the expression): just after its last character.
  const last = units[Math.min(j, units.length) - 1];
  return last ? last.at + 1 : start;
}

/** Damerau-free Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[n]!;
}

/** The closest candidate when it is close enough to be a likely typo. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(word.length, best.length) / 3));
  if (bestD <= limit) return best;
  // An abbreviation ("warn" for "warning", "prom" for "prometheus"), when only one candidate fits.
  if (word.length < 3) return undefined;
  const w = word.toLowerCase();
  const starts = [...candidates].filter((c) => c.toLowerCase().startsWith(w));
  return starts.length === 1 ? starts[0] : undefined;
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s ? `, did you mean "${s}"?` : '';
}
