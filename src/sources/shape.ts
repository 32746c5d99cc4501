// The targets document (inventory files, command output): checked and turned into TargetReports, with paths for errors.
import type { FactValue, TargetReport } from '../model.js';

export type DocPath = (string | number)[];

/** The document does not have the shape of a targets list; `path` points at the offending value. */
export class ShapeError extends Error {
  constructor(
    message: string,
    readonly path: DocPath,
  ) {
    super(message);
    this.name = 'ShapeError';
  }
}

const ENTRY_FIELDS = ['id', 'kind', 'labels', 'depends_on', 'facts', 'unknown'];
const isEntryField = (k: string): boolean => k === 'id' || k === 'kind' || k === 'labels' || k === 'depends_on' || k === 'facts' || k === 'unknown';
const MAX_WARNINGS = 20;

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
  done(): string[] {
    return this.extra > 0 ? [...this.items, `... and ${this.extra} more warnings like these`] : this.items;
  }
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

/**
 * Read a targets document: `{targets: [...]}` or a top-level list of
 * `{id, kind?, labels?, depends_on?, facts?, unknown?}`. Throws ShapeError at the first
 * entry that cannot be used (a half-read inventory would silently drop targets).
 */
export function readTargetsDocument(data: unknown): { targets: TargetReport[]; facts: string[]; warnings: string[]; distinct: boolean } {
  const warnings = new WarningList();
  let list: unknown;
  let base: DocPath;
  if (Array.isArray(data)) {
    list = data;
    base = [];
  } else if (isPlainObject(data)) {
    if (!('targets' in data)) throw new ShapeError('expected a list of targets, or a map with a `targets:` list', []);
    for (const k of Object.keys(data)) if (k !== 'targets') warnings.add(`unknown top-level field \`${k}\` ignored`);
    list = data.targets;
    base = ['targets'];
    if (list === null) list = [];
  } else {
    throw new ShapeError('expected a list of targets, or a map with a `targets:` list', []);
  }
  if (!Array.isArray(list)) throw new ShapeError('`targets` must be a list', base);

  const targets: TargetReport[] = new Array(list.length);
  const factNames = new Set<string>();
  // Fact names of the previous entry, by position: entries mostly list the same facts in the
  // same order, so most names are already known without a Set lookup (every name kept here is in factNames).
  const prevFacts: string[] = [];
  // Repeated ids are rare: a sorted copy of the ids (far cheaper than a map of 100,000 entries)
  // shows whether there are any; only then does the loop keep a map to name each repeat's first entry.
  const distinct = !hasRepeats(list);
  const seen = distinct ? null : new Map<string, number>();
  for (let i = 0; i < list.length; i++) {
    const e: unknown = list[i];
    if (!isPlainObject(e)) throw new ShapeError('a target must be a map with at least an `id`', pathOf(base, i));
    const id = e.id;
    if (typeof id !== 'string' || id === '') {
      throw new ShapeError(
        id === undefined ? 'a target needs an `id`' : '`id` must be a non-empty string',
        id === undefined ? pathOf(base, i) : pathOf(base, i, 'id'),
      );
    }
    const t: TargetReport = { id };
    if (e.kind !== undefined && e.kind !== null) {
      if (typeof e.kind !== 'string' || e.kind === '') throw new ShapeError('`kind` must be a non-empty string', pathOf(base, i, 'kind'));
      t.kind = e.kind;
    }
    if (e.labels !== undefined && e.labels !== null) {
      if (!isPlainObject(e.labels)) throw new ShapeError('`labels` must be a map of label: value', pathOf(base, i, 'labels'));
      const labels = e.labels;
      for (const k in labels) {
        const v = labels[k];
        if (typeof v === 'string') continue;
        if (typeof v === 'number' || typeof v === 'boolean') labels[k] = String(v);
        else throw new ShapeError(`label \`${k}\` must be text, a number or a boolean`, pathOf(base, i, 'labels', k));
      }
      if (Object.hasOwn(labels, '__proto__')) throw new ShapeError('`__proto__` is not allowed as a label name', pathOf(base, i, 'labels'));
      t.labels = labels as Record<string, string>;
    }
    const dep = e.depends_on;
    if (dep !== undefined && dep !== null) {
      if (typeof dep === 'string') t.depends_on = [dep];
      else if (Array.isArray(dep)) {
        for (let j = 0; j < dep.length; j++) {
          if (typeof dep[j] !== 'string' || dep[j] === '')
            throw new ShapeError('`depends_on` entries must be target ids (text)', pathOf(base, i, 'depends_on', j));
        }
        t.depends_on = dep as string[];
      } else throw new ShapeError('`depends_on` must be a target id or a list of them', pathOf(base, i, 'depends_on'));
    }
    if (e.facts !== undefined && e.facts !== null) {
      if (!isPlainObject(e.facts)) throw new ShapeError('`facts` must be a map of fact: value', pathOf(base, i, 'facts'));
      if (Object.hasOwn(e.facts, '__proto__')) throw new ShapeError('`__proto__` is not allowed as a fact name', pathOf(base, i, 'facts'));
      let j = 0;
      for (const k in e.facts) {
        if (e.facts[k] === undefined) throw new ShapeError(`fact \`${k}\` has no value`, pathOf(base, i, 'facts', k));
        if (prevFacts[j] !== k) {
          factNames.add(k);
          prevFacts[j] = k;
        }
        j++;
      }
      t.facts = e.facts as Record<string, FactValue>;
    }
    if (e.unknown !== undefined && e.unknown !== null) {
      if (!isPlainObject(e.unknown)) throw new ShapeError('`unknown` must be a map of fact: reason', pathOf(base, i, 'unknown'));
      const u: Record<string, string> = {};
      for (const k in e.unknown) {
        if (k === '__proto__') continue;
        u[k] = String(e.unknown[k]);
        factNames.add(k);
      }
      t.unknown = u;
    }
    for (const k in e)
      if (!isEntryField(k)) warnings.add(`${pathText(pathOf(base, i))}: unknown field \`${k}\` ignored (a target has ${ENTRY_FIELDS.join(', ')})`);
    if (seen) {
      const prev = seen.get(id);
      if (prev !== undefined) warnings.add(`${pathText(pathOf(base, i))}: target "${id}" is listed again (first at entry ${prev}); the entries are merged`);
      else seen.set(id, i);
    }
    targets[i] = t;
  }
  return { targets, facts: [...factNames].sort(), warnings: warnings.done(), distinct };
}
