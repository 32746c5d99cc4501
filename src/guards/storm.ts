// Storm breaker: a remediation that makes things worse. When a rule's actions in a group are followed by new trouble
// in that group (targets it did not act on, which had no problem when the first of those actions ran), the rule
// stops acting in the group, with one message, until the window holds no such storm (docs/guardrails.md).
import { fleetDecisions, groupsOf } from '../pipeline/decision.js';
import { runCovers } from '../pipeline/shards/rounds.js';
import { REASON } from '../pipeline/reasons.js';
import { stop, type RunContext } from '../pipeline/types.js';
import type { Target } from '../model.js';
import type { Decision } from '../rules/evaluate.js';
import type { ExecutionRecord } from '../store/types.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { BREAKER_KEY_PREFIX, queueBreakerMessage, queueResolve } from './escalate.js';
import { failClosed, type Guard } from './types.js';

const STORM_PREFIX = `${BREAKER_KEY_PREFIX}storm/`;
/** The group of targets without a blast-radius group label (or with `group_by: []`): all the rule's targets. */
const ALL = '*';

export interface Storm {
  rule: string;
  group: string;
  /** Targets the rule acted on in the group within the window. */
  acted: string[];
  /**
   * Targets of the group newly in trouble since the first of those actions ran: in trouble now, or acted on since,
   * and not in trouble then.
   */
  fresh: string[];
}

const groupsOfTarget = (ctx: Pick<RunContext, 'project'>, d: Pick<Decision, 'target'>) => {
  const g = groupsOf(ctx, d);
  return g.length ? g : [ALL];
};

/** What a recorded run saw of a rule: the targets it found in trouble, and whether it decided about a target at all. */
export interface Baseline {
  troubled: Set<string>;
  covers: (target: string) => boolean;
}

/**
 * The storms of this run, per rule and group. `before(run, rule)` reads what a recorded run saw of a rule (its
 * stored decisions: every one that reached the guards is kept), or null when the run recorded no decisions (it
 * crashed, or is still running). The baseline is the first run of the rule's executions in the window that
 * recorded its decisions; only executions from that run on count, and only targets it decided about (in a
 * sharded layout, those of its shards) can be new trouble. With no baseline, nothing can be judged: no storm.
 */
export async function findStorms(
  ctx: Pick<RunContext, 'project' | 'decisions' | 'fleet'>,
  executions: readonly ExecutionRecord[],
  before: (runId: number, rule: string) => Promise<Baseline | null>,
): Promise<Storm[]> {
  const { min_actions, ratio } = ctx.project.config.guardrails.storm;
  const byRule = new Map<string, ExecutionRecord[]>();
  for (const e of executions) {
    let l = byRule.get(e.rule);
    if (!l) byRule.set(e.rule, (l = []));
    l.push(e);
  }
  const troubledNow = new Map<string, Decision[]>();
  for (const d of fleetDecisions(ctx)) {
    if (!d.problem || d.rule.derive) continue;
    let l = troubledNow.get(d.rule.name);
    if (!l) troubledNow.set(d.rule.name, (l = []));
    l.push(d);
  }
  const out: Storm[] = [];
  for (const [rule, all] of byRule) {
    if (new Set(all.map((e) => e.target)).size < min_actions) continue;
    let was: Baseline | null = null;
    let from = 0;
    for (const runId of [...new Set(all.map((e) => e.runId))].sort((a, b) => a - b)) {
      if ((was = await before(runId, rule))) {
        from = runId;
        break;
      }
    }
    if (!was) continue;
    const base = was;
    const es = all.filter((e) => e.runId >= from);
    if (new Set(es.map((e) => e.target)).size < min_actions) continue;
    const acted = new Map<string, Set<string>>();
    for (const e of es) {
      for (const g of e.groups.length ? e.groups : [ALL]) {
        let s = acted.get(g);
        if (!s) acted.set(g, (s = new Set()));
        s.add(e.target);
      }
    }
    if (![...acted.values()].some((s) => s.size >= min_actions)) continue;
    const fresh = new Map<string, Set<string>>();
    const add = (g: string, t: string) => {
      if (base.troubled.has(t) || !base.covers(t)) return;
      let s = fresh.get(g);
      if (!s) fresh.set(g, (s = new Set()));
      s.add(t);
    };
    for (const d of troubledNow.get(rule) ?? []) for (const g of groupsOfTarget(ctx, d)) add(g, d.target.id);
    for (const [g, targets] of acted) for (const t of targets) add(g, t);
    for (const [group, targets] of acted) {
      const f = [...(fresh.get(group) ?? [])].sort();
      if (targets.size >= min_actions && f.length >= ratio * targets.size) out.push({ rule, group, acted: [...targets].sort(), fresh: f });
    }
  }
  return out;
}

export const stormGuard: Guard = {
  name: 'breaker:storm',
  always: true,
  async check(ctx, live) {
    const s = ctx.project.config.guardrails.storm;
    if (!s.enabled) return;
    const windowMs = parseDuration(s.window);
    let storms: Storm[];
    try {
      const executions = (await ctx.store.listExecutions({ since: ctx.now - windowMs, limit: 50_000 })).filter((e) => e.status !== 'refused');
      // Made only when a run is asked about (a rule with enough recent actions): a million-entry index otherwise costs for nothing.
      let index: Map<string, Target> | undefined;
      const byId = () => (index ??= new Map(ctx.targets.map((t) => [t.id, t])));
      const by = ctx.project.config.shards.by;
      storms = await findStorms(ctx, executions, async (runId, rule) => {
        const run = await ctx.store.getRun(runId);
        // Only a run that recorded its decisions (ok, or with problems) knows what was in trouble.
        if (!run || (run.status !== 'ok' && run.status !== 'problems')) return null;
        const ds = await ctx.store.getDecisions(runId, { rule });
        return {
          troubled: new Set(ds.filter((d) => d.outcome !== 'unknown' && d.outcome !== 'not_matched').map((d) => d.target)),
          covers: (id) => {
            const t = byId().get(id);
            return t ? runCovers(run, t, by) : !run.shard;
          },
        };
      });
    } catch (err) {
      failClosed(ctx, live, 'storm breaker', err);
      return;
    }
    const keyOf = (rule: string, group: string) => `${STORM_PREFIX}${rule}/${group}`;
    const tripped = new Set(storms.map((x) => keyOf(x.rule, x.group)));
    for (const st of storms) {
      const where = st.group === ALL ? `rule ${st.rule}'s targets` : `group ${st.group}`;
      const detail = `remediation storm in ${where}: ${st.acted.length} actions of rule "${st.rule}" in ${formatDuration(windowMs)}, ${st.fresh.length} new troubled targets after them (${st.fresh.slice(0, 5).join(', ')}${st.fresh.length > 5 ? ', ...' : ''}); the breaker trips at ${s.ratio} per action from ${s.min_actions} actions: the rule does not act here until it settles`;
      const stopped = live.filter((d) => d.rule.name === st.rule && d.outcome === 'matched' && groupsOfTarget(ctx, d).includes(st.group));
      for (const d of stopped) stop(d, 'guard', REASON.BREAKER_STORM, detail, 'blocked');
      queueBreakerMessage(ctx, {
        dedupKey: keyOf(st.rule, st.group),
        rule: st.rule,
        summary: `remediation storm in ${where}: ${st.acted.length} actions in ${formatDuration(windowMs)}, ${st.fresh.length} new troubled targets after them: rule ${st.rule} stopped`,
        decisions: stopped,
        details: { breaker: REASON.BREAKER_STORM, rule: st.rule, group: st.group, acted: st.acted, fresh: st.fresh.slice(0, 50), window: s.window },
      });
    }
    queueResolve(ctx, STORM_PREFIX, (k) => !tripped.has(k));
  },
};
