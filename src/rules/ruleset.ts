// Turns loaded rule files into a compiled rule set: CEL compiled once, derive rules ordered, references checked.
import type { Diagnostic } from '../config/diagnostics.js';
import { didYouMean } from '../config/diagnostics.js';
import type { Broken, Loc, LoadedAggregate, LoadedGroup, LoadedRule, Project } from '../config/load.js';
import type { Config, RuleConfig, StepConfig } from '../config/schema.js';
import type { RuleMode, Severity } from '../model.js';
import { parseDuration } from '../util/duration.js';
import { compile, type CelDiagnostic, type CompiledExpr } from './cel/index.js';
import type { CompiledGroup } from './groups.js';
import type { Compare } from './order.js';
import { compileSelector, type LabelPredicate } from './selector.js';

/** Variables a rule condition can read (CEL types, for type checking). */
export const RULE_VARIABLES: Record<string, string> = {
  facts: 'map',
  labels: 'map',
  target: 'map',
  agg: 'map',
  depends_on: 'list',
  dependents: 'list',
  upstream: 'list',
  downstream: 'list',
  now: 'timestamp',
};

/** Variables an aggregate's `where`/`value` can read: one member at a time. */
export const MEMBER_VARIABLES: Record<string, string> = {
  facts: 'map',
  labels: 'map',
  target: 'map',
  depends_on: 'list',
  now: 'timestamp',
};

export interface CompiledCondition {
  name: string;
  source: string;
  expr: CompiledExpr;
}

export type EscalateOn = 'matched' | 'context' | 'blocked' | 'failed' | 'unknown';

export interface CompiledRule {
  index: number;
  name: string;
  description?: string;
  runbook?: string;
  kind: string;
  selector: LabelPredicate | null;
  when: CompiledCondition[];
  context: CompiledCondition[];
  forMs: number | null;
  forRuns: number | null;
  severity: Severity;
  mode: RuleMode;
  steps: StepConfig[];
  /** `verify:`: whether a succeeded action fixed the problem (docs/verification.md). */
  verify: CompiledVerify | null;
  /** `mode: approve` or `approval:`: when a person may let a decision act (docs/approvals.md). */
  approval: CompiledApproval | null;
  escalate: { to: string | null; on: Set<EscalateOn>; summary?: string; switchedOff: 'none' | 'summary' | 'each' } | null;
  /** The rule's own limits (`limits:`), each tighter than the global guardrail of the same name; null where not set. */
  limits: RuleLimits;
  derive: string | null;
  value: CompiledExpr | null;
  /** Facts (own and related), aggregates and relations any of its expressions read. */
  refs: { facts: Set<string>; agg: Set<string>; relations: Set<string> };
  loc: Loc;
}

export interface RuleLimits {
  blastRadius: { max: number; windowMs: number; window: string } | null;
  budgetPerRun: number | null;
  groupFraction: number | null;
}

/** "5 per 10m" -> { max: 5, windowMs, window: "10m" } (the schema has checked the shape). */
function parseLimitText(text: string): { max: number; windowMs: number; window: string } {
  const [n, window] = text.trim().split(/ per /);
  return { max: Number(n), windowMs: parseDuration(window!), window: window! };
}

/**
 * A rule's own limits, and an error for each one that can never bind because the global guardrail it
 * tightens is at least as strict: a limit the author believes in must be one that applies.
 */
function compileLimits(r: RuleConfig, config: Config, at: (sub: PropertyKey[], message: string) => void): RuleLimits {
  const l = r.limits ?? {};
  const g = config.guardrails;
  const out: RuleLimits = { blastRadius: null, budgetPerRun: null, groupFraction: null };
  if (l.blast_radius !== undefined) {
    const own = parseLimitText(l.blast_radius);
    const ceiling = parseLimitText(g.blast_radius.per_rule);
    // It never binds before the ceiling when it allows at least as many in a window no longer than the ceiling's.
    if (own.max >= ceiling.max && own.windowMs <= ceiling.windowMs && !(own.max === ceiling.max && own.windowMs === ceiling.windowMs))
      at(
        ['limits', 'blast_radius'],
        `rule "${r.name}": limits.blast_radius "${l.blast_radius}" is looser than guardrails.blast_radius.per_rule "${g.blast_radius.per_rule}", which stays the ceiling (a rule's limits can only tighten the global ones)`,
      );
    out.blastRadius = own;
  }
  if (l.budget_per_run !== undefined) {
    if (l.budget_per_run > g.budget_per_run)
      at(
        ['limits', 'budget_per_run'],
        `rule "${r.name}": limits.budget_per_run ${l.budget_per_run} is looser than guardrails.budget_per_run ${g.budget_per_run}, which stays the ceiling`,
      );
    out.budgetPerRun = l.budget_per_run;
  }
  if (l.group_fraction !== undefined) {
    if (l.group_fraction > g.blast_radius.group_fraction)
      at(
        ['limits', 'group_fraction'],
        `rule "${r.name}": limits.group_fraction ${l.group_fraction} is looser than guardrails.blast_radius.group_fraction ${g.blast_radius.group_fraction}, which stays the ceiling`,
      );
    else if (g.blast_radius.group_by.length === 0)
      at(['limits', 'group_fraction'], `rule "${r.name}": limits.group_fraction needs groups, and guardrails.blast_radius.group_by is empty`);
    out.groupFraction = l.group_fraction;
  }
  return out;
}

export interface CompiledVerify {
  /** As written: `3 runs` or `10m`. */
  within: string;
  withinRuns: number | null;
  withinMs: number | null;
  /** `expect:`, or null for the default: the rule's `when` no longer holds. */
  expect: CompiledExpr | null;
  expectSource: string;
}

export type ApprovalGuardName = 'severity' | 'limit' | 'budget';

export interface CompiledApproval {
  /** Guardrails whose stops wait for a person (besides `mode: approve` itself). */
  on: Set<ApprovalGuardName>;
  expiresMs: number;
  /** The channel that hears requests, or null (then only `reflex approvals` lists them). */
  to: string | null;
}

export interface CompiledAggregate {
  name: string;
  of: string;
  groupBy: string[] | 'depends_on' | 'all';
  fn: 'count' | 'fraction' | 'sum' | 'avg' | 'min' | 'max';
  /** How min and max order values (src/rules/order.ts); `number` for every other function. */
  compare: Compare;
  where: CompiledExpr | null;
  value: CompiledExpr | null;
  maxUnknown: number;
  refs: { facts: Set<string>; relations: Set<string> };
  loc: Loc;
}

export interface RuleSet {
  /** Derive rules first, in dependency order; then the other rules in file order. */
  rules: CompiledRule[];
  byKind: Map<string, CompiledRule[]>;
  aggregates: Map<string, CompiledAggregate>;
  /** Group targets to make from the collected targets (src/rules/groups.ts); empty when none are declared. */
  groups: CompiledGroup[];
  /** fact name -> the derive rule that sets it */
  derived: Map<string, string>;
  hash: string;
}

/** Where a CEL diagnostic points: the expression's YAML scalar, at the character inside it (quotes, escapes and block scalars allowed for). */
function celDiag(loc: Loc, sub: PropertyKey[], d: CelDiagnostic, what: string): Diagnostic {
  return loc.file.at([...loc.path, ...sub], `${what}: ${d.message}`, { valueOffset: d.offset });
}

const TARGET_FIELDS = ['id', 'kind', 'labels', 'facts', 'depends_on'];
/** Known fields of targets and related targets, so `target.idd` is caught by `reflex check`. */
const FIELDS: Record<string, readonly string[]> = {
  target: TARGET_FIELDS,
  depends_on: TARGET_FIELDS,
  dependents: TARGET_FIELDS,
  upstream: TARGET_FIELDS,
  downstream: TARGET_FIELDS,
};

function compileExpr(
  source: string,
  variables: Record<string, string>,
  loc: Loc,
  sub: PropertyKey[],
  what: string,
  diags: Diagnostic[],
  expect?: 'bool',
): CompiledExpr | null {
  const r = compile(source, { variables, fields: FIELDS, expect });
  for (const e of r.errors) diags.push(celDiag(loc, sub, e, what));
  return r.expr ?? null;
}

export interface BuildOptions {
  /** Fact names the sources are known to provide; null when not all can be known in advance. */
  knownFacts: Set<string> | null;
  /** Names of entries that failed to load (reflex check goes on without them): not reported again as unknown. */
  broken?: Broken;
}

export function buildRuleSet(project: Project, opts: BuildOptions = { knownFacts: null }): { ruleSet?: RuleSet; diagnostics: Diagnostic[] } {
  const diags: Diagnostic[] = [];
  const { config } = project;

  // ---- aggregates
  const aggregates = new Map<string, CompiledAggregate>();
  const aggLocs = new Map<string, LoadedAggregate>();
  for (const a of project.aggregates) {
    if (aggregates.has(a.name)) {
      const first = aggLocs.get(a.name)!;
      diags.push(
        a.loc.file.at(
          [...a.loc.path, 'name'],
          `duplicate aggregate "${a.name}" (first declared at ${first.loc.file.path}:${first.loc.file.pos(first.loc.file.nodeAt(first.loc.path)?.range?.[0] ?? 0).line})`,
        ),
      );
      continue;
    }
    aggLocs.set(a.name, a);
    const where = a.where ? compileExpr(a.where, MEMBER_VARIABLES, a.loc, ['where'], `aggregate "${a.name}" where`, diags, 'bool') : null;
    const value = a.value ? compileExpr(a.value, MEMBER_VARIABLES, a.loc, ['value'], `aggregate "${a.name}" value`, diags) : null;
    if ((a.function === 'count' || a.function === 'fraction') && !a.where && a.value) {
      diags.push(a.loc.file.at([...a.loc.path, 'value'], `aggregate "${a.name}": ${a.function} counts members with "where:", not "value:"`));
    }
    if (a.function !== 'count' && a.function !== 'fraction' && !a.value) {
      diags.push(
        a.loc.file.at(
          [...a.loc.path, 'function'],
          `aggregate "${a.name}": ${a.function} needs "value:" (the number to ${a.function === 'sum' ? 'add up' : a.function === 'avg' ? 'average' : `take the ${a.function} of`})`,
        ),
      );
    }
    diags.push(...compareProblems(a, value));
    const facts = new Set<string>([...(where?.refs.facts ?? []), ...(value?.refs.facts ?? [])]);
    const relations = new Set<string>([...(where?.refs.relations ?? []), ...(value?.refs.relations ?? [])]);
    aggregates.set(a.name, {
      name: a.name,
      of: a.of,
      groupBy: a.group_by,
      fn: a.function,
      compare: a.compare,
      where,
      value,
      maxUnknown: a.max_unknown,
      refs: { facts, relations },
      loc: a.loc,
    });
  }

  const groups = compileGroups(project.groups, diags);

  // ---- rules
  const compiled: CompiledRule[] = [];
  const seen = new Map<string, LoadedRule>();
  const derived = new Map<string, string>();
  project.rules.forEach((r, index) => {
    const at = (sub: PropertyKey[], msg: string, key = false) => diags.push(r.loc.file.at([...r.loc.path, ...sub], msg, { key }));
    if (seen.has(r.name)) {
      const first = seen.get(r.name)!;
      const line = first.loc.file.pos(first.loc.file.nodeAt(first.loc.path)?.range?.[0] ?? 0).line;
      at(['name'], `duplicate rule name "${r.name}" (first defined at ${first.loc.file.path}:${line})`);
      return;
    }
    seen.set(r.name, r);
    const conds = (group: 'when' | 'context'): CompiledCondition[] => {
      const out: CompiledCondition[] = [];
      for (const [name, src] of Object.entries(r[group] ?? {})) {
        const expr = compileExpr(src, RULE_VARIABLES, r.loc, [group, name], `rule "${r.name}", ${group} "${name}"`, diags, 'bool');
        if (expr) out.push({ name, source: src, expr });
      }
      return out;
    };
    const when = conds('when');
    const context = conds('context');
    if (Object.keys(r.when ?? {}).length === 0) at(['when'], `rule "${r.name}" has no conditions under "when:"`);

    let forMs: number | null = null;
    let forRuns: number | null = null;
    if (r.for) {
      const m = /^(\d+) runs?$/.exec(r.for);
      if (m) forRuns = Number(m[1]);
      else forMs = parseDuration(r.for);
    }
    const value = r.value ? compileExpr(r.value, RULE_VARIABLES, r.loc, ['value'], `rule "${r.name}", value`, diags) : null;

    if (r.derive) {
      if (r.do?.length) at(['do'], `rule "${r.name}" derives a fact; it cannot also have actions (make a second rule that reads facts.${r.derive})`);
      if (r.escalate) at(['escalate'], `rule "${r.name}" derives a fact; it cannot escalate (make a second rule that reads facts.${r.derive})`);
      if (r.for) at(['for'], `rule "${r.name}" derives a fact; "for:" applies to acting rules only`);
      const other = derived.get(r.derive);
      if (other) at(['derive'], `fact "${r.derive}" is already derived by rule "${other}"`);
      else derived.set(r.derive, r.name);
    } else {
      if (r.value) at(['value'], `rule "${r.name}": "value:" is only for derive rules`);
      if (!r.do?.length && !r.escalate) at([], `rule "${r.name}" neither acts ("do:") nor escalates ("escalate:") nor derives a fact ("derive:")`);
    }

    // actions and channels
    (r.do ?? []).forEach((s, i) => {
      const action = config.actions[s.action];
      if (!action) {
        at(
          ['do', i, 'action'],
          `unknown action "${s.action}"${orKnown(s.action, Object.keys(config.actions), 'actions', 'declare actions under "actions:" in reflex.yaml')}`,
        );
        return;
      }
      const declared = Object.keys(action.params ?? {});
      for (const p of Object.keys(s.with ?? {})) {
        if (!declared.includes(p)) {
          at(
            ['do', i, 'with', p],
            `action "${s.action}" has no parameter "${p}"${didYouMean(p, declared)}${declared.length ? '' : ' (declare it under the action\'s "params:")'}`,
            true,
          );
        }
      }
      for (const p of declared) if (!(s.with && p in s.with)) at(['do', i], `action "${s.action}" needs parameter "${p}" (under "with:")`);
      for (const d of ['cooldown', 'timeout'] as const) if (s[d]) parseDuration(s[d]!);
    });
    let escalate: CompiledRule['escalate'] = null;
    if (r.escalate) {
      const e = typeof r.escalate === 'string' ? { to: r.escalate } : r.escalate;
      const to = e.to ?? config.defaults.escalate_to ?? null;
      const sub = typeof r.escalate === 'string' ? ['escalate'] : ['escalate', 'to'];
      if (!to) at(['escalate'], `rule "${r.name}" escalates but names no channel, and defaults.escalate_to is not set`);
      else if (!config.channels[to])
        at(sub, `unknown channel "${to}"${orKnown(to, Object.keys(config.channels), 'channels', 'declare channels under "channels:" in reflex.yaml')}`);
      const on = new Set<EscalateOn>((e as { on?: EscalateOn[] }).on ?? (r.do?.length ? ['context', 'blocked', 'failed'] : ['matched']));
      escalate = {
        to,
        on,
        summary: (e as { summary?: string }).summary,
        switchedOff: (e as { switched_off?: 'none' | 'summary' | 'each' }).switched_off ?? config.defaults.switched_off,
      };
    }

    let verify: CompiledVerify | null = null;
    if (r.verify) {
      if (r.derive || !r.do?.length) at(['verify'], `rule "${r.name}" has no actions ("do:"): there is nothing to verify`);
      const m = /^(\d+) runs?$/.exec(r.verify.within);
      const expect = r.verify.expect
        ? compileExpr(r.verify.expect, RULE_VARIABLES, r.loc, ['verify', 'expect'], `rule "${r.name}", verify.expect`, diags, 'bool')
        : null;
      verify = {
        within: r.verify.within,
        withinRuns: m ? Number(m[1]) : null,
        withinMs: m ? null : parseDuration(r.verify.within),
        expect,
        expectSource: r.verify.expect ?? '',
      };
    }
    let approval: CompiledApproval | null = null;
    const mode = r.mode ?? config.defaults.mode;
    const acts = !r.derive && !!r.do?.length;
    if ((r.approval || r.mode === 'approve') && !acts)
      at([r.approval ? 'approval' : 'mode'], `rule "${r.name}" has no actions ("do:"): there is nothing a person could approve`);
    // defaults.mode: approve applies to the rules that act.
    if (acts && (r.approval || mode === 'approve')) {
      const a = r.approval;
      if (a?.to && !config.channels[a.to])
        at(
          ['approval', 'to'],
          `unknown channel "${a.to}"${orKnown(a.to, Object.keys(config.channels), 'channels', 'declare channels under "channels:" in reflex.yaml')}`,
        );
      const to = a?.to ?? escalate?.to ?? config.defaults.escalate_to ?? null;
      if (!to)
        at(
          [r.approval ? 'approval' : 'mode'],
          `rule "${r.name}" asks for approvals but no channel hears them: set approval.to, escalate.to or defaults.escalate_to`,
        );
      if (a && !a.on?.length && mode !== 'approve')
        at(['approval'], `rule "${r.name}": "approval:" allows nothing (add on: [severity, limit, budget], or set mode: approve)`);
      approval = { on: new Set(a?.on ?? []), expiresMs: parseDuration(a?.expires ?? '30m'), to };
    }

    const refs = { facts: new Set<string>(), agg: new Set<string>(), relations: new Set<string>() };
    for (const c of [...when, ...context, ...(value ? [{ expr: value }] : []), ...(verify?.expect ? [{ expr: verify.expect }] : [])]) {
      c.expr.refs.facts.forEach((f) => refs.facts.add(f));
      c.expr.refs.agg.forEach((f) => refs.agg.add(f));
      c.expr.refs.relations.forEach((f) => refs.relations.add(f));
    }
    for (const a of refs.agg) {
      if (!aggregates.has(a) && !aggLocs.has(a) && !opts.broken?.aggregates.has(a)) {
        const site = refSite(ruleExprs(when, context, value), 'agg', a) ?? { sub: findCondWith(r, `agg.${a}`) };
        diags.push(
          r.loc.file.at(
            [...r.loc.path, ...site.sub],
            `unknown aggregate "agg.${a}"${orKnown(a, [...aggregates.keys()], 'aggregates', 'declare it under "aggregates:" in a rule file')}`,
            { valueOffset: site.offset },
          ),
        );
      }
    }
    compiled.push({
      index,
      name: r.name,
      description: r.description,
      runbook: r.runbook,
      kind: r.target.kind,
      selector: compileSelector(r.target.labels),
      when,
      context,
      forMs,
      forRuns,
      severity: r.severity ?? config.defaults.severity,
      mode: mode === 'approve' && !acts ? 'enforce' : mode,
      steps: r.do ?? [],
      verify,
      approval,
      escalate,
      limits: compileLimits(r, config, at),
      derive: r.derive ?? null,
      value,
      refs,
      loc: r.loc,
    });
  });

  // ---- unknown facts: neither provided by a source nor derived
  if (opts.knownFacts) {
    const known = new Set([...opts.knownFacts, ...derived.keys(), ...(opts.broken?.facts ?? [])]);
    for (const r of compiled) {
      for (const f of r.refs.facts) {
        if (!known.has(f)) {
          const site = refSite(ruleExprs(r.when, r.context, r.value), 'facts', f) ?? { sub: findCondWith(project.rules[r.index]!, `facts.${f}`) };
          diags.push(
            r.loc.file.at(
              [...r.loc.path, ...site.sub],
              `rule "${r.name}": unknown fact "${f}"${didYouMean(f, known)} (no source provides it and no rule derives it)`,
              { valueOffset: site.offset },
            ),
          );
        }
      }
    }
    for (const a of aggregates.values()) {
      for (const f of a.refs.facts) {
        if (!known.has(f)) {
          const exprs: [PropertyKey[], CompiledExpr | null][] = [
            [['where'], a.where],
            [['value'], a.value],
          ];
          const site = refSite(exprs, 'facts', f) ?? { sub: [a.where ? 'where' : 'value'] };
          diags.push(
            a.loc.file.at([...a.loc.path, ...site.sub], `aggregate "${a.name}": unknown fact "${f}"${didYouMean(f, known)}`, { valueOffset: site.offset }),
          );
        }
      }
    }
  }

  // ---- order derive rules by what they read (facts and aggregates over facts); a cycle is an error
  const order = orderDerives(compiled, aggregates, derived, diags);
  if (diags.some((d) => d.severity === 'error')) return { diagnostics: diags };
  const rules = [...order, ...compiled.filter((r) => !r.derive)];
  const byKind = new Map<string, CompiledRule[]>();
  for (const r of rules) {
    if (r.derive) continue;
    let list = byKind.get(r.kind);
    if (!list) byKind.set(r.kind, (list = []));
    list.push(r);
  }
  return { ruleSet: { rules, byKind, aggregates, groups, derived, hash: project.hash }, diagnostics: diags };
}

/**
 * `groups:` entries: one per kind, made of collected targets (not of other groups, which are made in the same
 * pass), each label once. Whether `of` and `kind` agree with what the sources report is check/index.ts's.
 */
function compileGroups(loaded: LoadedGroup[], diags: Diagnostic[]): CompiledGroup[] {
  const out: CompiledGroup[] = [];
  const first = new Map<string, LoadedGroup>();
  for (const g of loaded) {
    const at = (sub: PropertyKey[], msg: string) => diags.push(g.loc.file.at([...g.loc.path, ...sub], msg));
    const had = first.get(g.kind);
    if (had) {
      at(['kind'], `group kind "${g.kind}" is declared twice (first at ${had.loc.file.path}:${had.loc.file.at([...had.loc.path, 'kind'], '').line})`);
      continue;
    }
    first.set(g.kind, g);
    if (g.of === g.kind) at(['of'], `group "${g.kind}" is made of targets of its own kind; "of:" names the members' kind (instance, service...)`);
    g.by.forEach((l, i) => {
      if (g.by.indexOf(l) !== i) at(['by', i], `group "${g.kind}": label "${l}" is listed twice in "by:"`);
    });
    out.push({ kind: g.kind, of: g.of, by: [...g.by] });
  }
  for (const g of out) {
    const inner = first.get(g.of);
    if (inner)
      diags.push(
        first
          .get(g.kind)!
          .loc.file.at(
            [...first.get(g.kind)!.loc.path, 'of'],
            `group "${g.kind}" is made of "${g.of}", another group: groups are made of collected targets (make "${g.kind}" of "${inner.of}" by [${[...new Set([...inner.by, ...g.by])].join(', ')}])`,
          ),
      );
  }
  return out;
}

/** CEL types of values that are clearly not text, and the words for them. */
const NOT_TEXT: Record<string, string> = { double: 'a number', int: 'a number', uint: 'a number', bool: 'a boolean', timestamp: 'a timestamp' };

/**
 * `compare:` against the function and the static type of `value` (as far as CEL alone can tell; facts of known
 * types are checked by check/fact-types.ts): a version or text order is only for min and max, and takes text.
 */
export function compareProblems(a: LoadedAggregate, value: CompiledExpr | null, type = value?.type): Diagnostic[] {
  const at = (sub: string, msg: string) => a.loc.file.at([...a.loc.path, sub], `aggregate "${a.name}": ${msg}`);
  if (a.compare !== 'number') {
    if (a.function !== 'min' && a.function !== 'max')
      return [
        at(
          'compare',
          `compare: ${a.compare} orders values for min and max; ${a.function} ${a.function === 'count' || a.function === 'fraction' ? 'counts members' : 'adds numbers'} (remove compare:, or use min or max)`,
        ),
      ];
    if (type && NOT_TEXT[type])
      return [at('value', `compare: ${a.compare} orders text, but this value is always ${NOT_TEXT[type]} (remove compare: to order numbers)`)];
  } else if ((a.function === 'min' || a.function === 'max' || a.function === 'sum' || a.function === 'avg') && type === 'string') {
    const fix = a.function === 'min' || a.function === 'max' ? ': add compare: version (1.10.0 > 1.9.3) or compare: string (code-point order)' : '';
    return [at('value', `${a.function} needs numbers, but this value is always text${fix}`)];
  }
  return [];
}

/** ", did you mean X?" when one name is close; otherwise the names there are (a few), or how to declare one. */
function orKnown(word: string, known: string[], what: string, howToDeclare: string): string {
  const dym = didYouMean(word, known);
  if (dym) return dym;
  if (known.length === 0) return ` (${howToDeclare})`;
  return ` (${what}: ${known.slice(0, 8).join(', ')}${known.length > 8 ? ', ...' : ''})`;
}

/** A rule's expressions with their paths under the rule. */
function ruleExprs(when: CompiledCondition[], context: CompiledCondition[], value: CompiledExpr | null): [PropertyKey[], CompiledExpr | null][] {
  return [
    ...when.map((c): [PropertyKey[], CompiledExpr] => [['when', c.name], c.expr]),
    ...context.map((c): [PropertyKey[], CompiledExpr] => [['context', c.name], c.expr]),
    [['value'], value],
  ];
}

/** Where a reference first appears: the expression's path and the offset inside it (for file:line:col at the name itself). */
function refSite(exprs: [PropertyKey[], CompiledExpr | null][], kind: 'facts' | 'agg', name: string): { sub: PropertyKey[]; offset?: number } | undefined {
  for (const [sub, e] of exprs) {
    const s = e?.refs.sites.find((x) => x.kind === kind && x.name === name);
    if (s) return { sub, offset: s.offset };
  }
  return undefined;
}

/** The path (under the rule) of the first condition whose text mentions `needle`, for pointing at it. */
function findCondWith(r: LoadedRule, needle: string): PropertyKey[] {
  for (const g of ['when', 'context'] as const) {
    for (const [name, src] of Object.entries(r[g] ?? {})) if (src.includes(needle)) return [g, name];
  }
  if (r.value?.includes(needle)) return ['value'];
  return [];
}

function orderDerives(rules: CompiledRule[], aggregates: Map<string, CompiledAggregate>, derived: Map<string, string>, diags: Diagnostic[]): CompiledRule[] {
  const derives = rules.filter((r) => r.derive);
  const byName = new Map(derives.map((r) => [r.name, r]));
  // rule -> derive rules it depends on (directly through facts, or through aggregates over facts)
  const deps = new Map<string, string[]>();
  for (const r of derives) {
    const facts = new Set(r.refs.facts);
    for (const a of r.refs.agg) aggregates.get(a)?.refs.facts.forEach((f) => facts.add(f));
    deps.set(
      r.name,
      [...facts].map((f) => derived.get(f)).filter((x): x is string => !!x),
    );
  }
  const out: CompiledRule[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, stack: string[]) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      const r = byName.get(name)!;
      diags.push(r.loc.file.at([...r.loc.path, 'derive'], `derived facts form a cycle: ${cycle.map((n) => `${n} (${byName.get(n)!.derive})`).join(' -> ')}`));
      return;
    }
    state.set(name, 'visiting');
    for (const d of deps.get(name) ?? []) visit(d, [...stack, name]);
    state.set(name, 'done');
    out.push(byName.get(name)!);
  };
  for (const r of derives) visit(r.name, []);
  return out;
}
