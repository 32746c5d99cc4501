// The inventory source: a YAML or JSON file listing targets with their kind, labels, relations and static facts.
import { open } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve } from 'node:path';
import { isMap, isSeq, isScalar, LineCounter, parseDocument, type Node } from 'yaml';
import type { SourceConfig } from '../../config/schema.js';
import { maxBytesOf, sizeText } from '../limits.js';
import { SourceError, type Source, type SourceContext, type SourceOutput } from '../types.js';
import { pathText, readTargetsDocument, ShapeError, type DocPath } from '../shape.js';
import { JsonPositions, lineColAt, lineStartsOf } from './json-positions.js';

/** Positions of mistakes in YAML are found by reading the file again; past this size the path alone names them (JSON is scanned, at any size). */
const MAX_LOCATE_BYTES = 4 * 1024 * 1024;

type Config = Extract<SourceConfig, { kind: 'inventory' }>;

export function createInventorySource(config: Config): Source {
  return {
    name: config.name,
    kind: 'inventory',
    declaredFacts: () => null,
    collect: (ctx) => collectInventory(config, ctx),
  };
}

/**
 * `reflex run` reads each inventory twice in one process: the check every command makes (it refuses a run on what
 * `reflex check` refuses, inventory mistakes included), then the collect stage. With this on, the first read keeps
 * its bytes and its reading; the second takes them if the file still holds exactly those bytes (it is read again and
 * compared, so a file changed in between is read anew). At 100,000 targets that is one JSON reading instead of two.
 */
let readOnce: { kept: Map<string, { bytes: Buffer; output: SourceOutput }>; taken: Set<string> } | null = null;
export function readInventoriesOnce(): void {
  readOnce ??= { kept: new Map(), taken: new Set() };
}

async function collectInventory(config: Config, ctx: SourceContext): Promise<SourceOutput> {
  const full = isAbsolute(config.path) ? config.path : resolve(ctx.projectDir, config.path);
  const shown = isAbsolute(config.path) ? config.path : relative(ctx.projectDir, full) || config.path;
  const bytes = await readLimited(full, shown, maxBytesOf(config), ctx.signal);
  const key = `${full}\u0000${config.max_depth ?? ''}\u0000${shown}`;
  const kept = readOnce?.kept.get(key);
  if (kept) {
    readOnce!.kept.delete(key);
    readOnce!.taken.add(key);
    if (kept.bytes.equals(bytes)) return kept.output;
  }
  const output = readInventory(bytes, shown, config);
  // Only the first reading is kept, for the one that follows: a held copy is never left behind by the run itself.
  if (readOnce && !kept && !readOnce.taken.has(key)) readOnce.kept.set(key, { bytes, output });
  return output;
}

function readInventory(bytes: Buffer, shown: string, config: Config): SourceOutput {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  const text = bytes.toString('utf8', bom ? 3 : 0);
  const data = parseInventoryText(text, shown);
  const locator = new Locator(text, shown);
  try {
    const doc = readTargetsDocument(data, { maxDepth: config.max_depth, where: (p, key) => locator.where(p, key) });
    const problems = doc.problems.map((p) => `${locator.where(p.path, p.key)}: ${p.message}`);
    if (doc.problemCount > problems.length) problems.push(`${shown}: ... and ${doc.problemCount - problems.length} more mistakes like these`);
    // JSON.parse makes new objects and never shares one between two places (YAML aliases can):
    // the collector may then take the reports as targets instead of copying 100,000 of them.
    return {
      targets: doc.targets,
      facts: doc.facts,
      warnings: doc.warnings,
      distinct: doc.distinct,
      owned: isJsonText(text, shown),
      ...(problems.length ? { problems } : {}),
      ...(doc.malformed ? { malformed: doc.malformed } : {}),
    };
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    throw new SourceError(`${locator.where(err.path, err.key)}: ${err.path.length ? `${pathText(err.path)}: ` : ''}${err.message}`, { cause: err });
  }
}

/** The file's bytes, refused unread past `maxBytes` (a 100 MB inventory would otherwise be read whole). */
async function readLimited(full: string, shown: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(full, 'r');
    const { size } = await handle.stat();
    if (size > maxBytes) {
      throw new SourceError(
        `${shown}: the file is ${sizeText(size)}, over the limit of ${sizeText(maxBytes)} (raise the source's max_bytes if it is meant to be this large)`,
      );
    }
    // Read as bytes and decoded once: decoding while reading builds the text from chunks (twice the garbage).
    const bytes = await handle.readFile({ signal });
    // The file may have grown between the two calls.
    if (bytes.length > maxBytes) throw new SourceError(`${shown}: the file is over the limit of ${sizeText(maxBytes)}`);
    return bytes;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.name === 'AbortError' || err instanceof SourceError) throw err;
    throw new SourceError(e.code === 'ENOENT' ? `${shown}: file not found` : `${shown}: cannot read: ${e.message}`, { cause: err });
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** JSON files go through JSON.parse (large inventories must load fast); everything else is YAML 1.2. */
export function parseInventoryText(text: string, shown: string): unknown {
  if (isJsonText(text, shown)) {
    try {
      return JSON.parse(text);
    } catch (err) {
      const msg = (err as Error).message;
      const m = /at position (\d+)/.exec(msg);
      const pos = m ? Number(m[1]) : text.length;
      const { line, col } = lineCol(text, pos);
      throw new SourceError(`${shown}:${line}:${col}: invalid JSON: ${msg.replace(/ in JSON at position \d+.*$/, '')}`, { cause: err });
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, version: '1.2', merge: false });
  const first = doc.errors[0];
  if (first) {
    const p = lines.linePos(first.pos[0]);
    let msg = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    if (/call stack/i.test(msg)) msg = 'the document is nested too deeply to read';
    throw new SourceError(`${shown}:${p.line}:${p.col}: invalid YAML: ${msg}`, { cause: first });
  }
  try {
    return doc.toJS({ maxAliasCount: 1000 }) ?? [];
  } catch (err) {
    // An alias bomb (over maxAliasCount), or nesting the builder cannot hold: the file, not Reflex.
    const msg = err instanceof RangeError ? 'the document is nested too deeply to read' : (err as Error).message.split('\n')[0];
    throw new SourceError(`${shown}: invalid YAML: ${msg}`, { cause: err });
  }
}

function isJsonText(text: string, shown: string): boolean {
  const ext = extname(shown).toLowerCase();
  return ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && /^\s*\{/.test(text));
}

function lineCol(text: string, pos: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < pos; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: pos - lineStart + 1 };
}

/** Turns a path in the document into `file:line:col`; the file is read again as YAML (JSON is YAML) once, and only when there is a mistake. */
class Locator {
  private parsed?: { doc: ReturnType<typeof parseDocument>; lines: LineCounter } | null;
  private json?: { positions: JsonPositions; lines: number[] };
  constructor(
    private readonly text: string,
    private readonly shown: string,
  ) {}

  where(path: DocPath, key = false): string {
    if (isJsonText(this.text, this.shown)) {
      this.json ??= { positions: new JsonPositions(this.text), lines: lineStartsOf(this.text) };
      const { line, col } = lineColAt(this.json.lines, this.json.positions.offset(path, key));
      return `${this.shown}:${line}:${col}`;
    }
    if (this.parsed === undefined) {
      this.parsed = null;
      if (this.text.length <= MAX_LOCATE_BYTES) {
        try {
          const lines = new LineCounter();
          const doc = parseDocument(this.text, { lineCounter: lines, version: '1.2', uniqueKeys: false });
          if (doc.errors.length === 0) this.parsed = { doc, lines };
        } catch {
          /* no positions: the path names the place */
        }
      }
    }
    if (!this.parsed) return path.length ? `${this.shown}: ${pathText(path)}` : this.shown;
    const { line, col } = locate(this.parsed.doc, this.parsed.lines, path, key);
    return line > 0 ? `${this.shown}:${line}:${col}` : this.shown;
  }
}

/** Where a path points in the file (at the key for a misspelt field, at the value otherwise). */
function locate(doc: ReturnType<typeof parseDocument>, lines: LineCounter, path: DocPath, key = false): { line: number; col: number } {
  let node: unknown = doc.contents;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      next = key && i === path.length - 1 ? pair?.key : pair?.value;
    } else if (isSeq(node)) next = node.items[Number(seg)];
    if (next === undefined || next === null) break;
    node = next;
  }
  const start = (node as Node | null)?.range?.[0];
  if (start === undefined) return { line: 0, col: 0 };
  const p = lines.linePos(start);
  return { line: p.line, col: p.col };
}
