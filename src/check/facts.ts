// Which facts the sources will provide, known before anything runs: declared by sources, or read from inventory files.
import { relative, resolve } from 'node:path';
import { createSource } from '../sources/index.js';
import { collectAll } from '../sources/collect.js';
import type { FactValue } from '../model.js';
import type { Diagnostic } from '../config/diagnostics.js';
import type { Project } from '../config/load.js';
import type { FactTypeName } from '../config/schema.js';

/** What is known of a fact's type before running: a declared or observed type, or `dyn` when it varies or is not a bool, number or text. */
export type KnownType = FactTypeName | 'dyn';

/** Where a fact's known type comes from, for messages: `source "inv"` (what its values are) or `source "prom" (type: bool)`. */
export interface FactTypeInfo {
  type: KnownType;
  from: string;
  /** Two sources give the fact different types (then it is `dyn`): what they are, for a warning. */
  conflict?: string;
}

/**
 * The set of fact names rules may read, or null when some source cannot say in advance
 * (then unknown facts are not reported). Inventory files are local, so they are read.
 */
export async function knownFacts(project: Project, diagnostics: Diagnostic[]): Promise<Set<string> | null> {
  return (await knownWorld(project, diagnostics)).facts;
}

export interface KnownWorld {
  /** Fact names the sources provide; null when some source cannot say in advance. */
  facts: Set<string> | null;
  /** Target kinds the sources report; null when some source cannot say in advance. */
  kinds: Set<string> | null;
  /** Fact name -> its type, where it is known before running (declared `type:`, or every inventory value of one type). */
  types: Map<string, FactTypeInfo>;
}

function valueType(v: FactValue): KnownType {
  switch (typeof v) {
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    case 'string':
      return 'string';
    default:
      return 'dyn';
  }
}

/** Two sources (or two values) that disagree leave the fact untyped: nothing is assumed that a run could contradict. */
function addType(types: Map<string, FactTypeInfo>, fact: string, type: KnownType, from: string): void {
  const had = types.get(fact);
  if (!had) types.set(fact, { type, from });
  else if (had.type !== type && had.type !== 'dyn' && type !== 'dyn') {
    had.conflict ??= `${TYPE_WORDS[had.type]} (${had.from}) and ${TYPE_WORDS[type]} (${from})`;
    had.type = 'dyn';
  } else if (had.type !== type) had.type = 'dyn';
}

const TYPE_WORDS: Record<KnownType, string> = { number: 'a number', bool: 'a boolean', string: 'text', dyn: 'of varying type' };

/** What the sources will report, as far as can be known before anything runs. */
export async function knownWorld(project: Project, diagnostics: Diagnostic[]): Promise<KnownWorld> {
  if (project.config.sources.length === 0) {
    diagnostics.push(
      project.configFile.at([], 'no sources are configured: no target will be seen and no rule can match (add one under "sources:")', { severity: 'warning' }),
    );
    return { facts: null, kinds: null, types: new Map() };
  }
  const types = new Map<string, FactTypeInfo>();
  const facts = new Set<string>();
  const kinds = new Set<string>();
  let complete = true;
  let kindsComplete = true;
  const inventories: { src: ReturnType<typeof createSource>; i: number }[] = [];
  for (const [i, cfg] of project.config.sources.entries()) {
    const src = createSource(cfg);
    const declared = src.declaredFacts();
    for (const [f, t] of Object.entries(src.declaredTypes?.() ?? {})) {
      const implicit = cfg.kind === 'prometheus' && !cfg.queries.some((q) => q.fact === f && q.type);
      addType(
        types,
        f,
        t,
        implicit ? `Prometheus source "${cfg.name}" gives numbers; declare the query \`type: bool\` for 0/1` : `source "${cfg.name}", type: ${t}`,
      );
    }
    if (declared) declared.forEach((f) => facts.add(f));
    else if (cfg.kind !== 'inventory') complete = false;
    if (cfg.kind === 'inventory') inventories.push({ src, i });
    else {
      // A mapped source reports the kind its mapping names; without one, the kind is not known here.
      const mapped =
        cfg.kind === 'prometheus' ? cfg.queries.map((q) => q.target?.kind ?? cfg.target?.kind) : cfg.kind === 'command' ? [undefined] : [cfg.target?.kind];
      for (const k of mapped) {
        if (k) kinds.add(k);
        else kindsComplete = false;
      }
    }
  }
  if (inventories.length) {
    const r = await collectAll(
      inventories.map((x) => x.src),
      { now: Date.now(), projectDir: project.dir, env: process.env, concurrency: 2, defaultTimeoutMs: 30_000 },
    );
    r.reports.forEach((rep, j) => {
      // Inventory data is checked like configuration: each mistake is an error where it is.
      for (const p of rep.problems ?? []) {
        const m = /^(.+?):(\d+):(\d+): (.*)$/s.exec(p);
        if (m) {
          const file = relative(process.cwd(), resolve(project.dir, m[1]!)) || m[1]!;
          diagnostics.push({ file, line: Number(m[2]), col: Number(m[3]), message: `source "${rep.name}": ${m[4]}`, severity: 'error' });
        } else diagnostics.push(project.configFile.at(['sources', inventories[j]!.i, 'path'], `source "${rep.name}": ${p}`));
      }
      if (rep.status === 'ok') return;
      // Its facts cannot be known, so no reference to a fact is reported as unknown (one problem, not a cascade).
      complete = false;
      kindsComplete = false;
      // A mistake inside the inventory file is reported where it is; anything else at the source's path.
      const m = /^(.+?):(\d+):(\d+): (.*)$/s.exec(rep.error ?? '');
      if (m) {
        const file = relative(process.cwd(), resolve(project.dir, m[1]!)) || m[1]!;
        diagnostics.push({ file, line: Number(m[2]), col: Number(m[3]), message: `source "${rep.name}": ${m[4]}`, severity: 'error' });
      } else {
        diagnostics.push(project.configFile.at(['sources', inventories[j]!.i, 'path'], `source "${rep.name}": ${rep.error ?? 'cannot be read'}`));
      }
    });
    // Inventories with no targets at all (everything decommissioned, a file not filled yet) say nothing about which
    // facts exist: a run must not be refused because the fleet is empty.
    if (r.targets.length === 0) {
      complete = false;
      kindsComplete = false;
    }
    const seen = new Map<string, KnownType>();
    for (const t of r.targets) {
      kinds.add(t.kind);
      // Facts an entry says are unknown (or that a malformed entry leaves unknown) exist all the same.
      if (t.unknown) for (const f of Object.keys(t.unknown)) facts.add(f);
      for (const f of Object.keys(t.facts)) {
        facts.add(f);
        const vt = valueType(t.facts[f]!);
        const had = seen.get(f);
        if (had === undefined) seen.set(f, vt);
        else if (had !== vt) seen.set(f, 'dyn');
      }
    }
    for (const [f, t] of seen) addType(types, f, t, `in inventory "${r.factSources[f] ?? 'inventory'}"`);
  }
  for (const [f, t] of types) {
    if (t.conflict) {
      diagnostics.push(
        project.configFile.at(['sources'], `fact "${f}" is ${t.conflict}: rules cannot rely on its type (the source listed first wins per target)`, {
          severity: 'warning',
        }),
      );
    }
  }
  return { facts: complete ? facts : null, kinds: kindsComplete ? kinds : null, types };
}
