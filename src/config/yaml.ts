// YAML parsing with positions, YAML pitfall checks, and zod issues turned into file:line:col diagnostics.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Node } from 'yaml';
import type { z } from 'zod';
import { didYouMean, SourceFile, type Diagnostic } from './diagnostics.js';
import { Duration, ForSpec } from './schema.js';

const YAML11_BOOLEANS = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;
const YAML11_TRUE = /^(y|Y|yes|Yes|YES|on|On|ON)$/;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export interface ParsedYaml {
  file: SourceFile;
  diagnostics: Diagnostic[];
  /** A syntax error: the document cannot be read further. Duplicate and forbidden keys are errors, but not fatal. */
  fatal: boolean;
}

/** The largest configuration, rule or scenario file read: far above any real one, and small enough to check in well under a second. */
export const MAX_YAML_BYTES = 4 << 20;

/**
 * Parse a YAML file, reporting syntax errors, duplicate keys, forbidden keys and aliases, each with its position.
 * Aliases make the file fatal: their values are never built, so an undefined alias or an alias bomb (a billion
 * laughs) cannot crash or exhaust the process. A file larger than MAX_YAML_BYTES is not parsed.
 */
export function parseYamlFile(path: string, text?: string): ParsedYaml {
  const diagnostics: Diagnostic[] = [];
  let source: string;
  try {
    source = text ?? readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    diagnostics.push({ file: path, line: 0, col: 0, message: e.code === 'ENOENT' ? 'file not found' : `cannot read: ${e.message}`, severity: 'error' });
    const lines = new LineCounter();
    return { file: new SourceFile(path, parseDocument('', { lineCounter: lines }), lines), diagnostics, fatal: true };
  }
  if (source.length > MAX_YAML_BYTES) {
    const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;
    diagnostics.push({
      file: path,
      line: 1,
      col: 1,
      message: `the file is ${mib(source.length)}; Reflex reads files of at most ${mib(MAX_YAML_BYTES)} here`,
      severity: 'error',
    });
    const lc = new LineCounter();
    return { file: new SourceFile(path, parseDocument('', { lineCounter: lc }), lc), diagnostics, fatal: true };
  }
  const lines = new LineCounter();
  // Duplicate keys are found below (with both positions), so the parser is told to keep them.
  const doc = parseDocument(source, { lineCounter: lines, uniqueKeys: false, prettyErrors: false, version: '1.2', merge: false });
  const file = new SourceFile(path, doc, lines, source);
  for (const e of [...doc.errors, ...doc.warnings]) {
    const { line, col } = file.pos(e.pos[0]);
    let msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    if (/call stack/i.test(msg)) msg = 'the document is nested too deeply to read';
    diagnostics.push({ file: path, line, col, message: msg.trim() || 'YAML syntax error', severity: e.name === 'YAMLWarning' ? 'warning' : 'error' });
  }
  let fatal = doc.errors.length > 0;
  const alias: { count: number; first?: Diagnostic } = { count: 0 };
  if (!fatal) {
    visit(doc, {
      Map(_, map) {
        const seen = new Map<string, Node>();
        for (const pair of map.items) {
          if (!isScalar(pair.key)) continue;
          const key = String(pair.key.value);
          const first = seen.get(key);
          if (first) {
            diagnostics.push(
              file.diagAt(pair.key as Node, `duplicate key "${key}" (first at line ${file.pos(first.range?.[0] ?? 0).line}); YAML keeps only one of them`),
            );
          } else seen.set(key, pair.key as Node);
          if (FORBIDDEN_KEYS.has(key)) diagnostics.push(file.diagAt(pair.key as Node, `key "${key}" is not allowed`));
        }
      },
      Alias(_, node) {
        // One diagnostic for all of a file's aliases: an alias bomb holds thousands.
        if (alias.count++ === 0)
          diagnostics.push((alias.first = file.diagAt(node as unknown as Node, 'YAML aliases are not supported here; repeat the value instead')));
        fatal = true;
      },
    });
  }
  if (alias.first && alias.count > 1) alias.first.message += ` (${alias.count} aliases in this file)`;
  return { file, diagnostics, fatal };
}

/**
 * Plain words that YAML 1.1 tools (and many editors, linters and older
 * libraries) read as booleans, where the schema wants something else: Reflex
 * reads YAML 1.2, where `country: no` is the text "no", but the same file means
 * `false` elsewhere. Where a boolean is wanted, zod's own issue says so.
 */
export function yaml11Pitfalls(schema: AnySchema, data: unknown, file: SourceFile): Diagnostic[] {
  const out: Diagnostic[] = [];
  const walk = (node: unknown, path: PropertyKey[]) => {
    if (isMap(node)) {
      for (const p of node.items) if (isScalar(p.key)) walk(p.value, [...path, String(p.key.value)]);
    } else if (isSeq(node)) {
      node.items.forEach((it, i) => walk(it, [...path, i]));
    } else if (isScalar(node) && node.type === 'PLAIN' && typeof node.value === 'string' && YAML11_BOOLEANS.test(node.value)) {
      const s = schemaAt(schema, path, data);
      if (s && defOf(s).type === 'boolean') return;
      const word = node.value;
      out.push(
        file.diagAt(
          node as Node,
          `${word} is read as the text "${word}", but YAML 1.1 tools read it as ${YAML11_TRUE.test(word) ? 'true' : 'false'}: quote it ("${word}") if you mean text, or write ${YAML11_TRUE.test(word) ? 'true' : 'false'}`,
        ),
      );
    }
  };
  walk(file.doc.contents, []);
  return out;
}

type AnySchema = z.ZodType;

/**
 * The parts of a zod schema's internal definition (`_zod.def`, zod 4) that these walkers read. zod types the
 * definition per schema class; the walkers go over schemas of any class, so they read it through this one view.
 */
interface SchemaDef {
  type: string;
  shape?: Record<string, AnySchema>;
  element?: AnySchema;
  valueType?: AnySchema;
  innerType?: AnySchema;
  in?: AnySchema;
  discriminator?: string;
  options?: AnySchema[];
  values?: unknown[];
}
const defOf = (s: AnySchema): SchemaDef => (s as unknown as { _zod: { def: SchemaDef } })._zod.def;
/** `d[k]` for any value (undefined when `d` is not an object). */
const member = (d: unknown, k: PropertyKey): unknown => (d !== null && typeof d === 'object' ? (d as Record<PropertyKey, unknown>)[k] : undefined);

/** Fields of zod issues of several codes, read after the code has been checked. */
interface IssueFields {
  options?: string[];
  discriminator?: string;
  note?: string;
  errors?: z.core.$ZodIssue[][];
  expected?: string;
  values?: unknown[];
  minimum?: number | bigint;
  maximum?: number | bigint;
  origin?: string;
  issues?: { message?: string }[];
}

/** Walk a zod schema along a data path, choosing discriminated-union branches by the data. */
function schemaAt(schema: AnySchema, path: readonly PropertyKey[], data: unknown): AnySchema | undefined {
  let s: AnySchema | undefined = schema;
  let d: unknown = data;
  for (let i = 0; i <= path.length && s; i++) {
    s = unwrap(s, d);
    if (i === path.length || !s) break;
    const seg = path[i]!;
    const def = defOf(s);
    if (def.type === 'object') s = def.shape?.[seg as string];
    else if (def.type === 'array') s = def.element;
    else if (def.type === 'record') s = def.valueType;
    else s = undefined;
    d = member(d, seg);
  }
  return s;
}

function unwrap(s: AnySchema, d: unknown): AnySchema | undefined {
  for (let guard = 0; guard < 10; guard++) {
    const def = defOf(s);
    if (['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(def.type)) {
      if (!def.innerType) return s;
      s = def.innerType;
    } else if (def.type === 'pipe') {
      if (!def.in) return s;
      s = def.in;
    } else if (def.type === 'union') {
      const disc = def.discriminator;
      const opts = def.options ?? [];
      if (disc && d && typeof d === 'object') {
        const v = member(d, disc);
        const hit = opts.find((o) => {
          const branch = defOf(o).shape?.[disc];
          return branch !== undefined && (defOf(branch).values?.includes(v) ?? false);
        });
        if (!hit) return undefined;
        s = hit;
      } else {
        const obj = opts.find((o) => defOf(o).type === 'object');
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
  if (typeof v === 'string') return `the text "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
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

/** A field's name for messages: the last key of its path ("cooldown"), or the list it is an item of ("argv" item 2). */
function fieldName(path: readonly PropertyKey[], what: string, prefix: readonly PropertyKey[] = []): string {
  const full = [...prefix, ...path];
  const last = full[full.length - 1];
  if (last === undefined) return what;
  if (typeof last === 'number') {
    const parent = full[full.length - 2];
    return parent === undefined ? `item ${last + 1}` : `"${String(parent)}" item ${last + 1}`;
  }
  return `"${String(last)}"`;
}

/** Validate data read from `file` against a schema; every issue becomes a diagnostic at its node, with YAML 1.1 pitfalls. */
export function validate<T extends AnySchema>(schema: T, data: unknown, file: SourceFile, what: string): { value?: z.output<T>; diagnostics: Diagnostic[] } {
  const pitfalls = yaml11Pitfalls(schema, data, file);
  const r = validatePart(schema, data, file, what, []);
  return { value: r.value, diagnostics: [...pitfalls, ...r.diagnostics] };
}

/**
 * Validate one part of a file (the data found at `prefix`), so that one broken
 * rule does not hide the others. YAML 1.1 pitfalls are left to `validate`.
 */
export function validatePart<T extends AnySchema>(
  schema: T,
  data: unknown,
  file: SourceFile,
  what: string,
  prefix: readonly PropertyKey[],
): { value?: z.output<T>; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const r = schema.safeParse(data);
  if (r.success) return { value: r.data as z.output<T>, diagnostics };
  const report = (issues: readonly z.core.$ZodIssue[], under: PropertyKey[]): void => {
    for (const issue of issues) {
      const path = [...under, ...(issue.path as PropertyKey[])];
      const at = (p: PropertyKey[], msg: string, key = false) => diagnostics.push(file.at([...prefix, ...p], msg, { key }));
      const value = getPath(data, path);
      const field = fieldName(path, what, prefix);
      const here = schemaAt(schema, path, data);
      const info = issue as unknown as IssueFields;
      switch (issue.code) {
        case 'unrecognized_keys': {
          const shape = here ? defOf(here).shape : undefined;
          const known = shape ? Object.keys(shape).filter((x) => x !== '$schema') : [];
          for (const k of issue.keys) {
            const dym = didYouMean(k, known);
            at([...path, k], `unknown field "${k}"${dym}${known.length && !dym ? ` (known fields: ${known.join(', ')})` : ''}`, true);
          }
          break;
        }
        case 'invalid_union': {
          const opts = info.options;
          const disc = info.discriminator;
          if (info.note === 'No matching discriminator' && opts) {
            const name = disc ?? String(path[path.length - 1]);
            const base = path[path.length - 1] === name ? path.slice(0, -1) : path;
            const v = getPath(data, [...base, name]);
            if (v === undefined) at(base, `missing field "${name}" (one of: ${opts.join(', ')})`);
            else {
              const dym = didYouMean(String(v), opts);
              at([...base, name], `unknown ${name} "${String(v)}"${dym || ` (one of: ${opts.join(', ')})`}`);
            }
          } else {
            // A value that may take several forms (a channel name, or a map): report the problems
            // of the form the value has, or say which forms are accepted.
            const branches = info.errors ?? [];
            // The type a branch wanted, when the value is not of it at all (an invalid_type at the branch's root).
            const rootType = (b: z.core.$ZodIssue[]): string | undefined => {
              const i = b.find((x) => x.path.length === 0 && x.code === 'invalid_type');
              return i ? (i as unknown as IssueFields).expected : undefined;
            };
            const fitting = branches.filter((b) => rootType(b) === undefined);
            if (fitting.length >= 1) report(fitting.sort((a, b) => a.length - b.length)[0]!, path);
            else {
              const forms = [
                ...new Set(
                  branches
                    .map((b) => rootType(b))
                    .filter((t): t is string => t !== undefined)
                    .map((t) => TYPE_WORDS[t] ?? t),
                ),
              ];
              at(path, forms.length ? `${field} must be ${forms.join(' or ')}, not ${describeValue(value)}` : `${field}: ${issue.message}`);
            }
          }
          break;
        }
        case 'invalid_type': {
          const expected = info.expected ?? '';
          if (value === undefined) {
            at(path.slice(0, -1), `missing field ${field}`);
          } else if (expected === 'string' && (here === Duration || here === ForSpec) && typeof value === 'number') {
            at(path, `${field} must be a duration with a unit, such as ${value}s or ${value}m, not the number ${value}`);
          } else if (
            expected === 'string' &&
            (here as { description?: string } | undefined)?.description === 'A CEL expression.' &&
            (typeof value === 'boolean' || typeof value === 'number')
          ) {
            at(path, `${field} must be a CEL expression, which YAML reads as text only when quoted: write "${String(value)}"`);
          } else if (expected === 'boolean' && typeof value === 'string' && YAML11_BOOLEANS.test(value)) {
            const b = YAML11_TRUE.test(value);
            at(path, `${field} must be true or false, not the text "${value}" (YAML 1.2 reads ${value} as text): write ${b}`);
          } else {
            const exp = TYPE_WORDS[expected] ?? expected;
            at(path, `${field} must be ${exp}, not ${describeValue(value)}`);
          }
          break;
        }
        case 'invalid_value': {
          const vals = (info.values ?? []).map(String);
          at(
            path,
            `${field} must be ${vals.length === 1 ? `"${vals[0]}"` : `one of ${vals.join(', ')}`}, not ${describeValue(value)}${didYouMean(String(value), vals)}`,
          );
          break;
        }
        case 'invalid_format':
          at(path, `${field}: ${issue.message}, not ${describeValue(value)}`);
          break;
        case 'too_small': {
          const min = Number(info.minimum);
          const origin = info.origin ?? '';
          if (origin === 'string' && min <= 1) at(path, `${field} may not be empty`);
          else if (origin === 'array') at(path, `${field} needs at least ${min} item${min === 1 ? '' : 's'}`);
          else if (origin === 'number') at(path, `${field} must be at least ${min}, not ${String(value)}`);
          else at(path, `${field}: ${issue.message}`);
          break;
        }
        case 'too_big': {
          const max = Number(info.maximum);
          if (info.origin === 'number') at(path, `${field} must be at most ${max}, not ${String(value)}`);
          else at(path, `${field}: ${issue.message}`);
          break;
        }
        case 'invalid_key': {
          // A record key that breaks its pattern: point at the key itself.
          const inner = info.issues?.[0]?.message;
          at(path, `${field} is not a valid name${inner ? `: ${inner}` : ''}`, true);
          break;
        }
        default:
          at(path, `${field}: ${issue.message}`);
      }
    }
  };
  report(r.error.issues, []);
  return { diagnostics };
}

export function getPath(data: unknown, path: readonly PropertyKey[]): unknown {
  let d: unknown = data;
  for (const seg of path) {
    if (d === null || typeof d !== 'object') return undefined;
    d = member(d, seg);
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
