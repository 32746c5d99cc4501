// The targets document (inventory files, command output): checked like configuration and turned into TargetReports, with paths for errors.
import { suggest } from '../config/diagnostics.js';
import type { FactValue, TargetReport } from '../model.js';

export type DocPath = (string | number)[];

/** The document does not have the shape of a targets list at all; `path` points at the offending value. */
export class ShapeError extends Error {
  constructor(
    message: string,
    readonly path: DocPath,
    /** The mistake is the key at the path (a misspelt field), not its value. */
    readonly key = false,
  ) {
    super(message);
    this.name = 'ShapeError';
  }
}

/** One mistake in a targets document, where it is (the inventory turns the path into file:line:col). */
export interface DocProblem {
  path: DocPath;
  message: string;
  /** The mistake is the key itself (a misspelt field): point at the key, not its value. */
  key?: boolean;
}

const ENTRY_FIELDS = ['id', 'kind', 'labels', 'depends_on', 'facts', 'unknown'];
const isEntryField = (k: string): boolean => k === 'id' || k === 'kind' || k === 'labels' || k === 'depends_on' || k === 'facts' || k === 'unknown';
const MAX_WARNINGS = 20;
/** Problems kept with their path (the rest are counted): enough to fix a file, bounded for a file of 100,000 broken entries. */
export const MAX_PROBLEMS = 50;
/** Default of a source's `max_depth`: how deeply a fact value may nest. */
export const DEFAULT_MAX_DEPTH = 32;

export function pathText(path: DocPath): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s || '(top level)';
}

function pathOf(base: DocPath, i: number, ...rest: DocPath): DocPath {
  return [...base, i, ...rest];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects warnings, keeping the first few and counting the rest, so 100,000 bad entries do not flood a report. */
export class WarningList {
  readonly items: string[] = [];
  private extra = 0;
  add(w: string): void {
    if (this.items.length < MAX_WARNINGS) this.items.push(w);
    else this.extra++;
  }
  get count(): number {
    return this.items.length + this.extra;
  }
  done(): string[] {
    return this.extra > 0 ? [...this.items, `... and ${this.extra} more warnings like these`] : this.items;
  }
}

/**
 * Names that are never taken as a label, fact or key in a value: `__proto__` would reach an object's prototype,
 * not a key; a map holding `constructor` is taken by the CEL library for a value of another type, so every
 * condition reading it (or any other key of that map) would be unknown.
 */
export const FORBIDDEN_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor']);
/** The same test, inline for the loops that read 100,000 targets. */
export const forbiddenName = (k: string): boolean => k === '__proto__' || k === 'constructor';
/** Why a forbidden name is refused, as `what` (a label name, a fact name). */
export function forbiddenText(k: string, what: string): string {
  return `\`${k}\` is not allowed as ${what}${forbiddenWhy(k)}`;
}
const forbiddenWhy = (k: string): string => (k === 'constructor' ? ' (conditions could not read the map holding it)' : '');

/** A short description of a value's type, for messages. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'number') return 'a number';
  if (typeof v === 'boolean') return 'a boolean';
  if (typeof v === 'string') return 'text';
  return `a ${typeof v}`;
}

/**
 * Why a fact value cannot be used, or null when it can: nested deeper than `maxDepth`, a number
 * out of range (JSON's `-1e400` parses to -Infinity; YAML's `.inf`, `.nan`), a `__proto__` key, or
 * something that is not JSON data. Iterative, so a value nested 100,000 levels deep costs no stack.
 */
export function valueProblem(v: unknown, maxDepth: number): string | null {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(v) ? null : nonFinite(v);
    case 'object':
      if (v === null) return null;
      break;
    default:
      return `${typeName(v)} is not data`;
  }
  const stack: { v: unknown; depth: number }[] = [{ v, depth: 1 }];
  while (stack.length > 0) {
    const { v: x, depth } = stack.pop()!;
    if (depth > maxDepth) return `the value is nested deeper than the limit of ${maxDepth} levels (max_depth)`;
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) {
        const e: unknown = x[i];
        if (typeof e === 'object' && e !== null) stack.push({ v: e, depth: depth + 1 });
        else if (typeof e === 'number' && !Number.isFinite(e)) return nonFinite(e);
        else if (e === undefined || typeof e === 'function' || typeof e === 'symbol' || typeof e === 'bigint') return `${typeName(e)} is not data`;
      }
    } else {
      const o = x as Record<string, unknown>;
      const proto = Object.getPrototypeOf(o);
      if (proto !== Object.prototype && proto !== null) return 'the value is not plain data';
      for (const k of Object.keys(o)) {
        if (forbiddenName(k)) return `the key \`${k}\` is not allowed in a value${forbiddenWhy(k)}`;
        const e = o[k];
        if (typeof e === 'object' && e !== null) stack.push({ v: e, depth: depth + 1 });
        else if (typeof e === 'number' && !Number.isFinite(e)) return nonFinite(e);
        else if (e === undefined || typeof e === 'function' || typeof e === 'symbol' || typeof e === 'bigint') return `${typeName(e)} is not data`;
      }
    }
  }
  return null;
}

function nonFinite(v: number): string {
  if (Number.isNaN(v)) return 'the value is NaN, not a usable number';
  return `the number is out of range (${v > 0 ? '+' : '-'}Infinity, e.g. 1e400 written in the data)`;
}

/**
 * True when two entries may share an id (always when an entry or its id is not what it should be:
 * the caller's checks then name the problem). Sorting puts equal ids side by side.
 */
function hasRepeats(list: unknown[]): boolean {
  const ids: unknown[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    const id = typeof e === 'object' && e !== null ? (e as { id?: unknown }).id : undefined;
    if (typeof id !== 'string') return true;
    ids[i] = id;
  }
  ids.sort();
  for (let i = 1; i < ids.length; i++) if (ids[i] === ids[i - 1]) return true;
  return false;
}

export interface TargetsDocument {
  /** The targets: a malformed entry's target is kept (so rules see it) with every fact unknown; an entry without an id is left out. */
  targets: TargetReport[];
  facts: string[];
  warnings: string[];
  distinct: boolean;
  /** The first MAX_PROBLEMS mistakes, each with its path: `reflex check` reports them as errors at their position. */
  problems: DocProblem[];
  /** How many mistakes there are in all (problems holds the first of them). */
  problemCount: number;
  /** Entries with a mistake: left out (no id), or reported with their facts unknown. */
  malformed: number;
}

export interface ReadOptions {
  /** How deeply a fact value may nest (default DEFAULT_MAX_DEPTH). */
  maxDepth?: number;
  /** Turns a path into where it is for people (an inventory: `file:line:col`); by default the path itself. */
  where?: (path: DocPath, key?: boolean) => string;
}

/**
 * Read a targets document: `{targets: [...]}` or a top-level list of
 * `{id, kind?, labels?, depends_on?, facts?, unknown?}`, checked the way configuration is: every
 * misspelt field, wrong type or unusable value is a problem with its path and a suggestion. One bad
 * entry never hides the others: its target keeps its id, kind, relations and the labels that are
 * right, and every fact of the document is unknown there with the reason (a target silently
 * missing facts or labels could be matched by a rule it should not be, or by none that should).
 * Throws ShapeError only when the document is not a list of targets at all.
 */
export function readTargetsDocument(data: unknown, opts: ReadOptions = {}): TargetsDocument {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const where = opts.where ?? ((p: DocPath) => pathText(p));
  const warnings = new WarningList();
  const problems: DocProblem[] = [];
  let problemCount = 0;
  const problem = (path: DocPath, message: string, key = false): string => {
    problemCount++;
    if (problems.length < MAX_PROBLEMS) problems.push(key ? { path, message, key } : { path, message });
    return message;
  };
  let list: unknown;
  let base: DocPath;
  if (Array.isArray(data)) {
    list = data;
    base = [];
  } else if (isPlainObject(data)) {
    if (!Object.hasOwn(data, 'targets')) {
      const keys = Object.keys(data);
      const near = keys.find((k) => suggest(k, ['targets']) === 'targets');
      throw new ShapeError(
        near ? `unknown top-level field \`${near}\`, did you mean \`targets\`?` : 'expected a list of targets, or a map with a `targets:` list',
        near ? [near] : [],
        near !== undefined,
      );
    }
    for (const k of Object.keys(data)) {
      if (k !== 'targets') warnings.add(`${where([k], true)}: ${problem([k], `unknown top-level field \`${k}\` (an inventory has only \`targets\`)`, true)}`);
    }
    list = data.targets;
    base = ['targets'];
    if (list === null) list = [];
  } else {
    throw new ShapeError('expected a list of targets, or a map with a `targets:` list', []);
  }
  if (!Array.isArray(list)) throw new ShapeError('`targets` must be a list', base);

  const targets: TargetReport[] = [];
  const factNames = new Set<string>();
  // Fact names of the previous entry, by position: entries mostly list the same facts in the
  // same order, so most names are already known without a Set lookup (every name kept here is in factNames).
  const prevFacts: string[] = [];
  // Repeated ids are rare: a sorted copy of the ids (far cheaper than a map of 100,000 entries)
  // shows whether there are any; only then does the loop keep a map to name each repeat's first entry.
  const distinct = !hasRepeats(list);
  const seen = distinct ? null : new Map<string, number>();
  // Targets of malformed entries, with why: every fact of the document is made unknown there at the end.
  const broken: { t: TargetReport; reason: string }[] = [];
  let malformed = 0;
  // The entry being read, and its first mistake (its facts are then unknown for that reason; later ones are problems
  // too). Kept outside the loop so the helpers below are made once, not once per entry of a 100,000-entry file.
  let entry = 0;
  let first: string | undefined;
  const at = (...rest: DocPath): DocPath => pathOf(base, entry, ...rest);
  const bad = (path: DocPath, message: string, key = false): void => {
    problem(path, message, key);
    first ??= `${where(path, key)}: ${message}`;
  };
  for (let i = 0; i < list.length; i++) {
    const e: unknown = list[i];
    entry = i;
    first = undefined;
    if (!isPlainObject(e)) {
      malformed++;
      warnings.add(`${where(at())}: ${problem(at(), `a target must be a map with at least an \`id\`, not ${typeName(e)}; the entry is left out`)}`);
      continue;
    }
    const id = e.id;
    if (typeof id !== 'string' || id === '') {
      malformed++;
      const p = id === undefined ? at() : at('id');
      const msg = id === undefined ? missingId(e) : `\`id\` must be a non-empty string, not ${typeName(id)}`;
      warnings.add(`${where(p)}: ${problem(p, `${msg}; the entry is left out`)}`);
      continue;
    }
    // A fact whose value cannot be used is unknown on its own; the entry counts as malformed.
    let factProblem = false;
    const t: TargetReport = { id };
    if (e.kind !== undefined && e.kind !== null) {
      if (typeof e.kind !== 'string' || e.kind === '') bad(at('kind'), `\`kind\` must be a non-empty string, not ${typeName(e.kind)}`);
      else t.kind = e.kind;
    }
    if (e.labels !== undefined && e.labels !== null) {
      if (!isPlainObject(e.labels)) bad(at('labels'), `\`labels\` must be a map of label: value, not ${typeName(e.labels)}`);
      else {
        // Converted in place (the parsed document is ours): 100,000 entries need no second copy of their labels.
        const labels = e.labels;
        for (const k in labels) {
          const v = labels[k];
          if (typeof v === 'string' && !forbiddenName(k)) continue;
          if (forbiddenName(k)) bad(at('labels', k), forbiddenText(k, 'a label name'), true);
          else if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) {
            labels[k] = String(v);
            continue;
          } else if (typeof v === 'number') bad(at('labels', k), `label \`${k}\`: ${nonFinite(v)}`);
          else bad(at('labels', k), `label \`${k}\` must be text, a number or a boolean, not ${typeName(v)}`);
          delete labels[k];
        }
        t.labels = labels as Record<string, string>;
      }
    }
    const dep = e.depends_on;
    if (dep !== undefined && dep !== null) {
      if (typeof dep === 'string' && dep !== '') t.depends_on = [dep];
      else if (Array.isArray(dep)) {
        let deps: string[] | undefined;
        for (let j = 0; j < dep.length; j++) {
          const d: unknown = dep[j];
          if (typeof d === 'string' && d !== '') deps?.push(d);
          else {
            // Only an entry with a mistake pays for a copy of its list.
            deps ??= (dep as unknown[]).slice(0, j) as string[];
            bad(at('depends_on', j), `\`depends_on\` entries must be target ids (text), not ${typeName(d)}`);
          }
        }
        t.depends_on = deps ?? (dep as string[]);
      } else bad(at('depends_on'), `\`depends_on\` must be a target id or a list of them, not ${typeName(dep)}`);
    }
    if (e.facts !== undefined && e.facts !== null) {
      if (!isPlainObject(e.facts)) bad(at('facts'), `\`facts\` must be a map of fact: value, not ${typeName(e.facts)}`);
      else {
        const facts = e.facts as Record<string, FactValue>;
        let unknown: Record<string, string> | undefined;
        let j = 0;
        for (const k in facts) {
          if (prevFacts[j] !== k) {
            if (!forbiddenName(k)) factNames.add(k);
            prevFacts[j] = k;
          }
          j++;
          if (forbiddenName(k)) {
            bad(at('facts', k), forbiddenText(k, 'a fact name'), true);
            delete facts[k];
            continue;
          }
          const v: unknown = facts[k];
          const why =
            typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
              ? null
              : v === undefined
                ? 'the fact has no value'
                : valueProblem(v, maxDepth);
          if (why) {
            // Only this fact is unusable: the entry's other facts stay known.
            problem(at('facts', k), `fact \`${k}\`: ${why}`);
            delete facts[k];
            const w = where(at('facts', k));
            (unknown ??= {})[k] = `${w}: ${why}`;
            warnings.add(`${w}: fact \`${k}\` of "${id}" is unknown: ${why}`);
            factProblem = true;
          }
        }
        t.facts = facts;
        if (unknown) t.unknown = unknown;
      }
    }
    if (e.unknown !== undefined && e.unknown !== null) {
      if (!isPlainObject(e.unknown)) bad(at('unknown'), `\`unknown\` must be a map of fact: reason, not ${typeName(e.unknown)}`);
      else {
        const u: Record<string, string> = t.unknown ?? {};
        for (const k of Object.keys(e.unknown)) {
          const v = e.unknown[k];
          if (FORBIDDEN_NAMES.has(k)) bad(at('unknown', k), `\`${k}\` is not allowed as a fact name`);
          else if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || v === null) {
            if (!Object.hasOwn(u, k)) u[k] = v === null ? 'unknown' : String(v);
            factNames.add(k);
          } else bad(at('unknown', k), `the reason why \`${k}\` is unknown must be text, not ${typeName(v)}`);
        }
        if (Object.keys(u).length > 0) t.unknown = u;
      }
    }
    for (const k in e) {
      if (isEntryField(k)) continue;
      const near = suggest(k, ENTRY_FIELDS);
      bad(at(k), near ? `unknown field \`${k}\`, did you mean \`${near}\`?` : `unknown field \`${k}\` (a target has ${ENTRY_FIELDS.join(', ')})`, true);
    }
    if (seen) {
      const prev = seen.get(id);
      if (prev !== undefined) warnings.add(`${where(at())}: target "${id}" is listed again (first at entry ${prev}); the entries are merged`);
      else seen.set(id, i);
    }
    if (first !== undefined) {
      broken.push({ t, reason: first });
      warnings.add(`${first}; the facts of "${id}" are unknown`);
    }
    if (first !== undefined || factProblem) malformed++;
    targets.push(t);
  }
  // A malformed entry: every fact the document names is unknown there, with the first mistake as the reason.
  for (const { t, reason } of broken) {
    const own = Object.keys(t.facts ?? {});
    const unknown: Record<string, string> = {};
    for (const f of factNames) unknown[f] = `malformed entry: ${reason}`;
    for (const f of own) unknown[f] = `malformed entry: ${reason}`;
    delete t.facts;
    t.unknown = unknown;
  }
  return { targets, facts: [...factNames].sort(), warnings: warnings.done(), distinct, problems, problemCount, malformed };
}

function missingId(e: Record<string, unknown>): string {
  const near = Object.keys(e).find((k) => suggest(k, ['id']) === 'id' && k !== 'id');
  return near ? `a target needs an \`id\` (is \`${near}\` meant to be \`id\`?)` : 'a target needs an `id`';
}
