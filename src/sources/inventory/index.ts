// The inventory source: a YAML or JSON file listing targets with their kind, labels, relations and static facts.
import { readFile } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve } from 'node:path';
import { isMap, isSeq, isScalar, LineCounter, parseDocument, type Node } from 'yaml';
import type { SourceConfig } from '../../config/schema.js';
import { SourceError, type Source, type SourceContext, type SourceOutput } from '../types.js';
import { pathText, readTargetsDocument, ShapeError, type DocPath } from '../shape.js';

type Config = Extract<SourceConfig, { kind: 'inventory' }>;

export function createInventorySource(config: Config): Source {
  return {
    name: config.name,
    kind: 'inventory',
    declaredFacts: () => null,
    collect: (ctx) => collectInventory(config, ctx),
  };
}

async function collectInventory(config: Config, ctx: SourceContext): Promise<SourceOutput> {
  const full = isAbsolute(config.path) ? config.path : resolve(ctx.projectDir, config.path);
  const shown = isAbsolute(config.path) ? config.path : relative(ctx.projectDir, full) || config.path;
  let text: string;
  try {
    text = await readFile(full, { encoding: 'utf8', signal: ctx.signal });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.name === 'AbortError') throw err;
    throw new SourceError(e.code === 'ENOENT' ? `${shown}: file not found` : `${shown}: cannot read: ${e.message}`, { cause: err });
  }
  const data = parseInventoryText(text, shown);
  try {
    // JSON.parse makes new objects and never shares one between two places (YAML aliases can):
    // the collector may then take the reports as targets instead of copying 100,000 of them.
    return { ...readTargetsDocument(data), owned: isJsonText(text, shown) };
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    const { line, col } = locate(text, err.path);
    const where = line > 0 ? `${shown}:${line}:${col}` : shown;
    throw new SourceError(`${where}: ${pathText(err.path)}: ${err.message}`, { cause: err });
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
    const msg = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new SourceError(`${shown}:${p.line}:${p.col}: invalid YAML: ${msg}`, { cause: first });
  }
  return doc.toJS({ maxAliasCount: 1000 }) ?? [];
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

/** Where a path points in the file; only used on the error path (JSON is reparsed as YAML, which keeps positions). */
function locate(text: string, path: DocPath): { line: number; col: number } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, version: '1.2', uniqueKeys: false });
  let node: unknown = doc.contents;
  for (const seg of path) {
    let next: unknown;
    if (isMap(node)) next = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg))?.value;
    else if (isSeq(node)) next = node.items[Number(seg)];
    if (next === undefined || next === null) break;
    node = next;
  }
  const start = (node as Node | null)?.range?.[0];
  if (start === undefined) return { line: 0, col: 0 };
  const p = lines.linePos(start);
  return { line: p.line, col: p.col };
}
