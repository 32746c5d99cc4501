// Configuration problems as data: each with file:line:col, collected all at once and printed together.
import { isMap, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';

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
  ) {}

  /** The node at a path, or the deepest ancestor that exists (so a missing key points at its parent). */
  nodeAt(path: readonly PropertyKey[], preferKey = false): Node | null {
    let node: unknown = this.doc.contents;
    let keyNode: Node | null = null;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return (keyNode ?? (node as Node));
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

  at(path: readonly PropertyKey[], message: string, opts: { key?: boolean; severity?: 'error' | 'warning'; offset?: number } = {}): Diagnostic {
    const node = this.nodeAt(path, opts.key);
    const start = (node?.range?.[0] ?? 0) + (opts.offset ?? 0);
    const { line, col } = this.pos(start);
    return { file: this.path, line, col, message, severity: opts.severity ?? 'error' };
  }
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
  return bestD <= limit ? best : undefined;
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s ? `, did you mean "${s}"?` : '';
}
