// YAML parsing with positions, YAML pitfall checks, and zod issues turned into file:line:col diagnostics.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Node } from 'yaml';
import type { z } from 'zod';
import { didYouMean, SourceFile, type Diagnostic } from './diagnostics.js';

const YAML11_BOOLEANS = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;

/** Parse a YAML file, reporting syntax errors, duplicate keys and pitfalls; returns null when unusable. */
export function parseYamlFile(path: string, text?: string): { file: SourceFile; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  let source: string;
  try {
    source = text ?? readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    diagnostics.push({ file: path, line: 0, col: 0, message: e.code === 'ENOENT' ? 'file not found' : `cannot read: ${e.message}`, severity: 'error' });
    const lines = new LineCounter();
    return { file: new SourceFile(path, parseDocument('', { lineCounter: lines }), lines), diagnostics };
  }
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, version: '1.2', merge: false });
  const file = new SourceFile(path, doc, lines);
  for (const e of [...doc.errors, ...doc.warnings]) {
    const { line, col } = file.pos(e.pos[0]);
    let msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    if (e.code === 'DUPLICATE_KEY') msg = 'duplicate key: ' + msg.replace(/^Map keys must be unique;?\s*/i, '').trim();
    diagnostics.push({ file: path, line, col, message: msg.trim() || 'YAML syntax error', severity: e.name === 'YAMLWarning' ? 'warning' : 'error' });
  }
  if (doc.errors.length === 0) {
    visit(doc, {
      Pair(_, pair) {
        if (isScalar(pair.key) && (pair.key.value === '__proto__' || pair.key.value === 'constructor' || pair.key.value === 'prototype')) {
          diagnostics.push(file.diagAt(pair.key as Node, `key "${String(pair.key.value)}" is not allowed`));
        }
        if (isScalar(pair.value) && pair.value.type === 'PLAIN' && typeof pair.value.value === 'string' && YAML11_BOOLEANS.test(pair.value.value)) {
          diagnostics.push(
            file.diagAt(
              pair.value as Node,
              `"${pair.value.value}" is ambiguous: YAML 1.1 tools read it as a boolean; write true/false, or quote it ("${pair.value.value}") if you mean text`,
            ),
          );
        }
      },
      Alias(_, node) {
        diagnostics.push(file.diagAt(node as unknown as Node, 'YAML aliases are not supported here; repeat the value instead'));
      },
    });
  }
  return { file, diagnostics };
}

type AnySchema = z.ZodType;

/** Walk a zod schema along a data path, choosing discriminated-union branches by the data. */
function schemaAt(schema: AnySchema, path: readonly PropertyKey[], data: unknown): AnySchema | undefined {
  let s: AnySchema | undefined = schema;
  let d: unknown = data;
  for (let i = 0; i <= path.length && s; i++) {
    s = unwrap(s, d);
    if (i === path.length || !s) break;
    const seg = path[i]!;
    const def = (s as any)._zod.def;
    if (def.type === 'object') s = def.shape[seg as string];
    else if (def.type === 'array') s = def.element;
    else if (def.type === 'record') s = def.valueType;
    else s = undefined;
    d = d && typeof d === 'object' ? (d as any)[seg as any] : undefined;
  }
  return s;
}

function unwrap(s: AnySchema, d: unknown): AnySchema | undefined {
  for (let guard = 0; guard < 10; guard++) {
    const def = (s as any)._zod.def;
    if (['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(def.type)) s = def.innerType;
    else if (def.type === 'pipe') s = def.in;
    else if (def.type === 'union') {
      const disc = def.discriminator as string | undefined;
      const opts = def.options as AnySchema[];
      if (disc && d && typeof d === 'object') {
        const v = (d as any)[disc];
        const hit = opts.find((o) => (o as any)._zod.def.shape?.[disc]?._zod.def.values?.includes(v));
        if (!hit) return undefined;
        s = hit;
      } else {
        const obj = opts.find((o) => (o as any)._zod.def.type === 'object');
        if (!obj) return s;
        s = obj;
      }
    } else return s;
  }
  return s;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the text "${v.length > 40 ? v.slice(0, 40) + '…' : v}"`;
  return `${typeof v} ${String(v)}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a map',
  record: 'a map',
};

/** Validate data read from `file` against a schema; every issue becomes a diagnostic at its node. */
export function validate<T extends AnySchema>(
  schema: T,
  data: unknown,
  file: SourceFile,
  what: string,
): { value?: z.output<T>; diagnostics: Diagnostic[] } {
  const r = schema.safeParse(data);
  if (r.success) return { value: r.data as z.output<T>, diagnostics: [] };
  const diagnostics: Diagnostic[] = [];
  for (const issue of r.error.issues) {
    const path = issue.path as PropertyKey[];
    const at = (p: PropertyKey[], msg: string, key = false) => diagnostics.push(file.at(p, msg, { key }));
    const value = getPath(data, path);
    const field = path.length ? `"${String(path[path.length - 1])}"` : what;
    switch (issue.code) {
      case 'unrecognized_keys': {
        const shape = (schemaAt(schema, path, data) as any)?._zod.def.shape as Record<string, unknown> | undefined;
        const known = shape ? Object.keys(shape) : [];
        for (const k of issue.keys) {
          at([...path, k], `unknown field "${k}"${didYouMean(k, known)}${known.length && !didYouMean(k, known) ? ` (known fields: ${known.filter((x) => x !== '$schema').join(', ')})` : ''}`, true);
        }
        break;
      }
      case 'invalid_union': {
        const opts = (issue as any).options as string[] | undefined;
        if ((issue as any).note === 'No matching discriminator' && opts) {
          const v = getPath(data, path);
          if (v === undefined) at(path.slice(0, -1), `missing field "${String(path[path.length - 1])}" (one of: ${opts.join(', ')})`);
          else at(path, `unknown ${String(path[path.length - 1])} "${String(v)}"${didYouMean(String(v), opts)}${didYouMean(String(v), opts) ? '' : ` (one of: ${opts.join(', ')})`}`);
        } else {
          at(path, `${field}: ${issue.message}`);
        }
        break;
      }
      case 'invalid_type': {
        if (value === undefined) {
          at(path.slice(0, -1), `missing field ${field}`);
        } else {
          const exp = TYPE_WORDS[(issue as any).expected] ?? (issue as any).expected;
          at(path, `${field} must be ${exp}, not ${describeValue(value)}`);
        }
        break;
      }
      case 'invalid_value': {
        const vals = ((issue as any).values as unknown[]).map(String);
        at(path, `${field} must be one of ${vals.join(', ')}, not ${describeValue(value)}${didYouMean(String(value), vals)}`);
        break;
      }
      default:
        at(path, `${field}: ${issue.message}`);
    }
  }
  return { diagnostics };
}

export function getPath(data: unknown, path: readonly PropertyKey[]): unknown {
  let d: any = data;
  for (const seg of path) {
    if (d === null || typeof d !== 'object') return undefined;
    d = d[seg as any];
  }
  return d;
}

/** Every string scalar in the document, with its path (for ${ENV} interpolation). */
export function walkStrings(node: unknown, path: PropertyKey[], fn: (value: string, path: PropertyKey[], node: Node) => string | undefined): void {
  if (isMap(node)) {
    for (const p of node.items) {
      if (isScalar(p.key)) walkStrings(p.value, [...path, String(p.key.value)], fn);
    }
  } else if (isSeq(node)) {
    node.items.forEach((it, i) => walkStrings(it, [...path, i], fn));
  } else if (isScalar(node) && typeof node.value === 'string') {
    const out = fn(node.value, path, node as Node);
    if (out !== undefined) node.value = out;
  }
}
