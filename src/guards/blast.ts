// Blast radius: at most N executions per rule and per action in a window, and at most N (or N%) of a group's targets acted on in a window.
import type { Target } from '../model.js';
import { REASON } from '../pipeline/reasons.js';
import { cooldownOf, groupsOf } from '../pipeline/decision.js';
import type { RunContext } from '../pipeline/types.js';
import type { Decision } from '../rules/evaluate.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { recentExecutions, type Limit, type LimitVerdict } from './limits.js';
import { allowedByFraction, fractionText, parseLimit, windowStart } from './numbers.js';

type ParsedLimit = ReturnType<typeof parseLimit>;

export function ruleLimitDetail(rule: string, used: number, lim: ParsedLimit, need = 1): string {
  return `blast radius: ${used} of a limit of ${lim.max} executions of rule "${rule}" per ${lim.window} used${need > 1 ? ` (this decision needs ${need})` : ''}`;
}

export function actionLimitDetail(action: string, used: number, lim: ParsedLimit, need = 1): string {
  return `blast radius: ${used} of a limit of ${lim.max} ${action} actions per ${lim.window} used${need > 1 ? ` (this decision needs ${need})` : ''}`;
}

export function ownRuleLimitDetail(rule: string, used: number, lim: ParsedLimit, need = 1): string {
  return `blast radius: ${used} of the rule's own limit of ${lim.max} executions of rule "${rule}" per ${lim.window} used (limits.blast_radius)${need > 1 ? ` (this decision needs ${need})` : ''}`;
}

/**
 * At most N executions of one rule per window (`blast_radius.per_rule`, default "10 per 10m"), and at most the
 * rule's own `limits.blast_radius` when it sets one; every step is one execution.
 */
export const ruleLimit: Limit = {
  name: 'blast radius (per rule)',
  async load(ctx) {
    const lim = parseLimit(ctx.project.config.guardrails.blast_radius.per_rule);
    const since = windowStart(ctx.now, lim.windowMs);
    const recent = await recentExecutions(ctx);
    const used = new Map<string, number>();
    for (const e of recent) if (e.createdAt >= since) used.set(e.rule, (used.get(e.rule) ?? 0) + 1);
    // Each rule with a limit of its own counts its executions in its own window.
    const own = new Map<string, number>();
    for (const r of ctx.ruleSet.rules) {
      if (!r.limits.blastRadius) continue;
      const from = windowStart(ctx.now, r.limits.blastRadius.windowMs);
      own.set(r.name, recent.filter((e) => e.rule === r.name && e.createdAt >= from).length);
    }
    return {
      check(d): LimitVerdict | null {
        const u = used.get(d.rule.name) ?? 0;
        const need = d.rule.steps.length;
        if (u + need > lim.max) return { reason: REASON.BLAST_RULE, detail: ruleLimitDetail(d.rule.name, u, lim, need), outcome: 'blocked' };
        const mine = d.rule.limits.blastRadius;
        const o = own.get(d.rule.name) ?? 0;
        if (mine && o + need > mine.max) return { reason: REASON.BLAST_RULE, detail: ownRuleLimitDetail(d.rule.name, o, mine, need), outcome: 'blocked' };
        return null;
      },
      admit(d) {
        used.set(d.rule.name, (used.get(d.rule.name) ?? 0) + d.rule.steps.length);
        if (own.has(d.rule.name)) own.set(d.rule.name, own.get(d.rule.name)! + d.rule.steps.length);
      },
    };
  },
};

/** At most N executions of each action per window, whatever the rule (`blast_radius.per_action`, off unless set). */
export const actionLimit: Limit = {
  name: 'blast radius (per action)',
  async load(ctx) {
    const text = ctx.project.config.guardrails.blast_radius.per_action;
    if (!text) return null;
    const lim = parseLimit(text);
    const since = windowStart(ctx.now, lim.windowMs);
    const used = new Map<string, number>();
    for (const e of await recentExecutions(ctx)) if (e.createdAt >= since) used.set(e.action, (used.get(e.action) ?? 0) + 1);
    const needs = (d: Decision) => {
      const m = new Map<string, number>();
      for (const s of d.rule.steps) m.set(s.action, (m.get(s.action) ?? 0) + 1);
      return m;
    };
    return {
      check(d): LimitVerdict | null {
        for (const [action, need] of needs(d)) {
          const u = used.get(action) ?? 0;
          if (u + need > lim.max) return { reason: REASON.BLAST_ACTION, detail: actionLimitDetail(action, u, lim, need), outcome: 'blocked' };
        }
        return null;
      },
      admit(d) {
        for (const [action, need] of needs(d)) used.set(action, (used.get(action) ?? 0) + need);
      },
    };
  },
};

// ---- groups

/** The blast-radius groups of a target (the same keys the journal records with each intent). */
export function targetGroups(ctx: Pick<RunContext, 'project'>, t: Target): string[] {
  return groupsOf(ctx, { target: t } as Decision);
}

/** Targets per group key (`service=checkout`: every target of this run, of any kind, with that label). */
const sizes = new WeakMap<Target[], Map<string, number>>();
export function groupSize(ctx: Pick<RunContext, 'project' | 'targets'>, group: string): number {
  let m = sizes.get(ctx.targets);
  if (!m) {
    m = new Map();
    // Counted per label value, the group's name made once per group rather than twice per target.
    for (const l of new Set(ctx.project.config.guardrails.blast_radius.group_by)) {
      const counts = new Map<string, number>();
      for (const t of ctx.targets) {
        const v = t.labels[l];
        if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
      }
      for (const [v, n] of counts) m.set(`${l}=${v}`, n);
    }
    sizes.set(ctx.targets, m);
  }
  return m.get(group) ?? 0;
}

/**
 * The group window: `blast_radius.window`, or the longest action timeout when that is longer, so that every
 * action still running was journaled inside the window and is counted (an action cannot run past its timeout).
 */
const windows = new WeakMap<object, { ms: number; text: string }>();
export function groupWindow(ctx: Pick<RunContext, 'project' | 'ruleSet'>): { ms: number; text: string } {
  let w = windows.get(ctx.ruleSet);
  if (!w) windows.set(ctx.ruleSet, (w = computeGroupWindow(ctx)));
  return w;
}

function computeGroupWindow(ctx: Pick<RunContext, 'project' | 'ruleSet'>): { ms: number; text: string } {
  const { config } = ctx.project;
  const window = config.guardrails.blast_radius.window;
  let ms = parseDuration(window);
  let longest = parseDuration(config.defaults.action_timeout);
  for (const a of Object.values(config.actions)) if (a.timeout) longest = Math.max(longest, parseDuration(a.timeout));
  for (const r of ctx.ruleSet.rules) for (const st of r.steps) if (st.timeout) longest = Math.max(longest, parseDuration(st.timeout));
  if (longest <= ms) return { ms, text: window };
  ms = longest;
  return { ms, text: `${formatDuration(ms)} (the longest action timeout, longer than the window of ${window})` };
}

/** How many targets of a group may be acted on in the window: the fraction (rounded down, at least 1) and `group_max`, whichever is smaller. */
export function groupAllowed(ctx: Pick<RunContext, 'project'>, size: number): number {
  const b = ctx.project.config.guardrails.blast_radius;
  return Math.min(allowedByFraction(b.group_fraction, size), b.group_max ?? Infinity);
}

export function groupLimitDetail(ctx: Pick<RunContext, 'project' | 'ruleSet'>, group: string, used: number, size: number): string {
  const b = ctx.project.config.guardrails.blast_radius;
  const why = `${fractionText(b.group_fraction)} of ${size} target${size === 1 ? '' : 's'}${b.group_max !== undefined ? `, at most ${b.group_max}` : ''}`;
  return `blast radius: ${used} of a limit of ${groupAllowed(ctx, size)} targets with ${group} acted on per ${groupWindow(ctx).text} used (${why}; running actions count)`;
}

export function ownGroupLimitDetail(
  ctx: Pick<RunContext, 'project' | 'ruleSet'>,
  rule: string,
  fraction: number,
  group: string,
  used: number,
  size: number,
): string {
  return `blast radius: ${used} of the rule's own limit of ${allowedByFraction(fraction, size)} targets with ${group} acted on by rule "${rule}" per ${groupWindow(ctx).text} used (limits.group_fraction ${fractionText(fraction)} of ${size} target${size === 1 ? '' : 's'}; running actions count)`;
}

type Counted = 'store' | 'running' | { cooldownKey: string };

/** At most N (or N%) of a group's distinct targets acted on per window, counting executions still running. */
export const groupLimit: Limit = {
  name: 'blast radius (per group)',
  async load(ctx) {
    const b = ctx.project.config.guardrails.blast_radius;
    if (b.group_by.length === 0) return null;
    const since = windowStart(ctx.now, groupWindow(ctx).ms);
    // group -> target -> what counted it
    const acted = new Map<string, Map<string, Counted>>();
    const add = (g: string, target: string, by: Counted) => {
      let m = acted.get(g);
      if (!m) acted.set(g, (m = new Map()));
      if (!m.has(target)) m.set(target, by);
    };
    // rule -> group -> targets it acted on (only for rules with limits.group_fraction)
    const byRule = new Map<string, Map<string, Set<string>>>();
    const ownFraction = new Set(ctx.ruleSet.rules.filter((r) => r.limits.groupFraction !== null).map((r) => r.name));
    const addOwn = (rule: string, g: string, target: string) => {
      let m = byRule.get(rule);
      if (!m) byRule.set(rule, (m = new Map()));
      let t = m.get(g);
      if (!t) m.set(g, (t = new Set()));
      t.add(target);
    };
    for (const e of await recentExecutions(ctx)) {
      // Executions created in the window count. One older still marked running (its runner died) counts here too, to be safe.
      const inWindow = e.createdAt >= since;
      if (inWindow) for (const g of e.groups) add(g, e.target, 'store');
      else if (e.status === 'intent' || e.status === 'running') for (const g of e.groups) add(g, e.target, 'running');
      if (ownFraction.has(e.rule) && (inWindow || e.status === 'intent' || e.status === 'running')) for (const g of e.groups) addOwn(e.rule, g, e.target);
    }
    return {
      check(d): LimitVerdict | null {
        for (const g of groupsOf(ctx, d)) {
          const m = acted.get(g);
          if (m?.has(d.target.id)) continue;
          const used = m?.size ?? 0;
          const size = groupSize(ctx, g);
          if (used + 1 > groupAllowed(ctx, size)) return { reason: REASON.BLAST_GROUP, detail: groupLimitDetail(ctx, g, used, size), outcome: 'blocked' };
        }
        const f = d.rule.limits.groupFraction;
        if (f !== null) {
          for (const g of groupsOf(ctx, d)) {
            const mine = byRule.get(d.rule.name)?.get(g);
            if (mine?.has(d.target.id)) continue;
            const used = mine?.size ?? 0;
            const size = groupSize(ctx, g);
            if (used + 1 > allowedByFraction(f, size))
              return { reason: REASON.BLAST_GROUP, detail: ownGroupLimitDetail(ctx, d.rule.name, f, g, used, size), outcome: 'blocked' };
          }
        }
        return null;
      },
      admit(d) {
        if (d.rule.limits.groupFraction !== null) for (const g of groupsOf(ctx, d)) addOwn(d.rule.name, g, d.target.id);
        // A target already counted in a group takes no new place there; the intent transaction counts again from the journal.
        for (const g of groupsOf(ctx, d)) if (!acted.get(g)?.has(d.target.id)) add(g, d.target.id, { cooldownKey: cooldownOf(ctx, d, 0).key });
      },
    };
  },
};
