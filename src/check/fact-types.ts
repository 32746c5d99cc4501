// Type-checks rule expressions against the fact types known before running, so `facts.queue_depth > "1000"` is a `reflex check` error, not an unknown at run time.
//
// A rule sees `facts` as a map of dynamic values, which CEL cannot type-check. Here each
// `facts.NAME` whose type is known is replaced by a variable of that type with a name of the same
// length (`facts_NAME`), so CEL's own checker judges the expression and its error offsets stay
// where they are in the text people wrote. Only what is certain is reported: comparisons with
// null, `in`, and ternaries that mix ints and doubles are legal at run time, so a complaint about
// them takes that fact back to dynamic and the expression is checked again.
import { compile } from '../rules/cel/index.js';
import { compareProblems, MEMBER_VARIABLES, RULE_VARIABLES } from '../rules/ruleset.js';
import type { Diagnostic } from '../config/diagnostics.js';
import type { FactTypeInfo } from './facts.js';
import type { Loc, Project } from '../config/load.js';

const CEL_TYPE = { number: 'double', bool: 'bool', string: 'string' } as const;
const WORDS: Record<string, string> = { number: 'a number', bool: 'a boolean', string: 'text' };
/** How many times an expression is checked again after a complaint that is not certain. */
const MAX_RETRIES = 8;

interface Site {
  scope: 'facts' | 'agg';
  name: string;
  offset: number;
  length: number;
}

/** What is known of an aggregate's type: a number, or text for min and max under compare: version or string. */
export interface AggTypeInfo {
  type: 'number' | 'string';
  from: string;
}

/**
 * The `facts.NAME` and `agg.NAME` reads of an expression that can be typed: not `d.facts.x` of a related
 * target, not inside `has()`.
 */
function typedSites(source: string, typed: ReadonlyMap<string, FactTypeInfo>, aggs: ReadonlyMap<string, AggTypeInfo>): Site[] {
  const out: Site[] = [];
  const re = /(?<![\w.])(facts|agg)\.([A-Za-z_][A-Za-z0-9_]*)(?![\w(])/g;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    const scope = m[1] as Site['scope'];
    const name = m[2]!;
    const info = scope === 'facts' ? typed.get(name) : aggs.get(name);
    if (!info || info.type === 'dyn') continue;
    if (/\bhas\s*\(\s*$/.test(source.slice(Math.max(0, m.index - 16), m.index))) continue;
    out.push({ scope, name, offset: m.index, length: m[0].length });
  }
  return out;
}

/** A complaint CEL makes about types that Reflex's run time accepts (equality with null, `in`, int/double ternaries). */
function uncertain(message: string): boolean {
  return /\bnull\b|no such overload: .* in |Ternary branches|\bdyn\b/.test(message);
}

export interface TypeCheckResult {
  /** The message, in terms of `facts.NAME` and the types people declared. */
  message: string;
  offset: number;
}

/**
 * Type-check one expression against known fact types: null when it is fine (or its types cannot
 * be judged), else the first certain type error. `variables` are the expression's variables
 * (RULE_VARIABLES or MEMBER_VARIABLES); `expect: 'bool'` for conditions.
 */
export function typeCheckExpression(
  source: string,
  variables: Readonly<Record<string, string>>,
  typed: ReadonlyMap<string, FactTypeInfo>,
  expect?: 'bool',
  aggs: ReadonlyMap<string, AggTypeInfo> = NO_AGGS,
): TypeCheckResult | null {
  const info = (s: Site) => (s.scope === 'facts' ? typed.get(s.name)! : aggs.get(s.name)!);
  let sites = typedSites(source, typed, aggs);
  for (let attempt = 0; sites.length > 0 && attempt <= MAX_RETRIES; attempt++) {
    const sub = substitute(source, variables, sites, info);
    if (!sub) return null;
    const r = compile(sub.text, { variables: sub.vars, ...(expect ? { expect } : {}) });
    const e = r.errors[0];
    if (!e) return null;
    const inSpan = sites.filter((s) => s.offset < e.offset + Math.max(e.length, 1) && s.offset + s.length > e.offset);
    if (uncertain(e.message)) {
      if (inSpan.length === 0) return null;
      sites = sites.filter((s) => !inSpan.includes(s));
      continue;
    }
    // An error that does not involve a typed fact was already reported (or is not ours to report).
    const involved = inSpan.length > 0 ? inSpan : e.offset === 0 && e.length >= sub.text.length ? sites : [];
    if (involved.length === 0) return null;
    const names = [...new Map(involved.map((s) => [`${s.scope}.${s.name}`, s])).values()];
    const why = names.map((s) => `${s.scope}.${s.name} is ${WORDS[info(s).type]} (${info(s).from})`).join(', ');
    const message = e.message.replace(/\b(facts|agg)_([A-Za-z_][A-Za-z0-9_]*)/g, '$1.$2').replace(/\bdouble\b/g, 'number');
    return { message: `${message}; ${why}`, offset: e.offset };
  }
  return null;
}

const NO_AGGS: ReadonlyMap<string, AggTypeInfo> = new Map();

/** Each typed read replaced by a variable of its type with a name of the same length (`facts_NAME`, `agg_NAME`). */
function substitute(
  source: string,
  variables: Readonly<Record<string, string>>,
  sites: Site[],
  info: (s: Site) => { type: string },
): { text: string; vars: Record<string, string> } | null {
  const vars: Record<string, string> = { ...variables };
  let text = source;
  for (const s of sites) {
    const id = `${s.scope}_${s.name}`;
    if (id in variables) return null;
    vars[id] = CEL_TYPE[info(s).type as keyof typeof CEL_TYPE];
    text = text.slice(0, s.offset) + id + text.slice(s.offset + s.length);
  }
  return { text, vars };
}

/** The CEL type of an expression with the known fact types in place (`string` for `facts.version` declared text), or null. */
export function typedResultType(source: string, variables: Readonly<Record<string, string>>, typed: ReadonlyMap<string, FactTypeInfo>): string | null {
  const sites = typedSites(source, typed, NO_AGGS);
  if (sites.length === 0) return null;
  const sub = substitute(source, variables, sites, (s) => typed.get(s.name)!);
  if (!sub) return null;
  const r = compile(sub.text, { variables: sub.vars });
  return r.expr ? r.expr.type : null;
}

/** The type of every aggregate as conditions read it: text for min and max under compare: version or string, else a number. */
export function aggregateTypes(project: Project): Map<string, AggTypeInfo> {
  const out = new Map<string, AggTypeInfo>();
  for (const a of project.aggregates) {
    const text = a.compare !== 'number' && (a.function === 'min' || a.function === 'max');
    out.set(a.name, { type: text ? 'string' : 'number', from: `aggregate "${a.name}": ${a.function}${text ? `, compare: ${a.compare}` : ''}` });
  }
  return out;
}

/**
 * Every rule condition, derive value and aggregate expression, checked against the known fact
 * types. Facts that a derive rule sets are left dynamic (their type is the rule's to decide).
 */
export function checkFactTypes(project: Project, types: ReadonlyMap<string, FactTypeInfo>): Diagnostic[] {
  const derived = new Set(project.rules.map((r) => r.derive).filter((d): d is string => !!d));
  const typed = new Map([...types].filter(([name, t]) => t.type !== 'dyn' && !derived.has(name)));
  const aggs = aggregateTypes(project);
  if (typed.size === 0 && aggs.size === 0) return [];
  const out: Diagnostic[] = [];
  const check = (loc: Loc, sub: PropertyKey[], what: string, source: string, variables: Readonly<Record<string, string>>, expect?: 'bool') => {
    // Expressions that do not compile at all are reported by the rule set's own checks.
    if (compile(source, { variables, ...(expect ? { expect } : {}) }).errors.length > 0) return;
    const r = typeCheckExpression(source, variables, typed, expect, variables === RULE_VARIABLES ? aggs : NO_AGGS);
    if (r) out.push(loc.file.at([...loc.path, ...sub], `${what}: ${r.message}`, { valueOffset: r.offset }));
  };
  for (const r of project.rules) {
    for (const group of ['when', 'context'] as const) {
      for (const [name, src] of Object.entries(r[group] ?? {}))
        check(r.loc, [group, name], `rule "${r.name}", ${group} "${name}"`, src, RULE_VARIABLES, 'bool');
    }
    if (r.value) check(r.loc, ['value'], `rule "${r.name}", value`, r.value, RULE_VARIABLES);
    if (r.verify?.expect) check(r.loc, ['verify', 'expect'], `rule "${r.name}", verify.expect`, r.verify.expect, RULE_VARIABLES, 'bool');
  }
  for (const a of project.aggregates) {
    if (a.where) check(a.loc, ['where'], `aggregate "${a.name}" where`, a.where, MEMBER_VARIABLES, 'bool');
    if (a.value) {
      check(a.loc, ['value'], `aggregate "${a.name}" value`, a.value, MEMBER_VARIABLES);
      // With the facts' types in place, a value of the wrong kind for compare: can be told (facts.version declared a number).
      const type = typedResultType(a.value, MEMBER_VARIABLES, typed);
      if (type) out.push(...compareProblems(a, null, type));
    }
  }
  return out;
}
