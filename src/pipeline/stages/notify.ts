// Notify: hand to humans what automation did not handle, once per problem (deduplicated), and resolve what went away.
import { createChannel } from '../../actions/channels/index.js';
import { renderTemplate } from '../../actions/template.js';
import type { Channel, EscalationMessage } from '../../actions/types.js';
import type { Decision } from '../../rules/evaluate.js';
import type { EscalateOn } from '../../rules/ruleset.js';
import { parseDuration } from '../../util/duration.js';
import { REASON } from '../reasons.js';
import type { RunContext, Stage } from '../types.js';
import { scopeOf } from './plan.js';

/** Which escalation trigger a decision's outcome corresponds to, if any. */
export function escalationTrigger(d: Decision): EscalateOn | null {
  const last = d.trace[d.trace.length - 1];
  switch (d.outcome) {
    case 'matched':
      return d.rule.steps.length === 0 ? 'matched' : null;
    // `on: [matched]` on an acting rule: tell a person whenever the rule acts (or, in a dry run, would).
    case 'executed':
    case 'dry_run':
      return 'matched';
    case 'blocked':
      return last?.reason === REASON.CONTEXT ? 'context' : 'blocked';
    case 'failed':
      return 'failed';
    case 'unknown':
      return d.problem || d.rule.when.length > 0 ? 'unknown' : null;
    default:
      return null;
  }
}

export const dedupKeyOf = (rule: string, target: string) => `reflex/${rule}/${target}`;

function summaryOf(d: Decision): string {
  if (d.rule.escalate?.summary) {
    try {
      return renderTemplate(d.rule.escalate.summary, scopeOf(d));
    } catch {
      /* fall through to the generated summary */
    }
  }
  const last = d.trace.filter((v) => v.stops).pop();
  return `${d.rule.name} on ${d.target.id}: ${last ? last.detail : (d.rule.description ?? 'needs a human')}`;
}

export class Channels {
  private readonly cache = new Map<string, Channel>();
  constructor(private readonly ctx: RunContext) {}
  get(name: string): Channel | null {
    let c = this.cache.get(name);
    if (!c) {
      const cfg = this.ctx.project.config.channels[name];
      if (!cfg) return null;
      this.cache.set(name, (c = this.ctx.channel?.(name, cfg) ?? createChannel(name, cfg, { secrets: this.ctx.project.secrets })));
    }
    return c;
  }

  /** Send (or in dry-run, describe) one message, deduplicated through the store. */
  /** `shadow`: the message comes from a rule in dry-run mode, which never pages anyone. */
  async send(channelName: string, msg: EscalationMessage, shadow = false): Promise<{ sent: boolean; note: string }> {
    const ctx = this.ctx;
    const channel = this.get(channelName);
    if (!channel) return { sent: false, note: `no channel "${channelName}"` };
    if (ctx.dryRun || shadow)
      return { sent: false, note: `would ${msg.event} on ${channelName}${shadow ? ' (rule in dry-run mode)' : ''}: ${channel.describe(msg)}` };
    if (msg.event === 'trigger') {
      const { isNew } = await ctx.store.openEscalation({ dedupKey: msg.dedupKey, channel: channelName, summary: msg.summary, at: ctx.now });
      if (!isNew) return { sent: false, note: `already escalated to ${channelName} (open, dedup key ${msg.dedupKey}): not paging again` };
    }
    const out = await channel.send(msg, {
      signal: ctx.signal,
      env: ctx.env,
      projectDir: ctx.project.dir,
      secrets: ctx.project.secrets,
      timeoutMs: parseDuration(ctx.project.config.defaults.action_timeout),
    });
    if (out.status !== 'succeeded') {
      const note = `escalation to ${channelName} failed: ${ctx.redact(out.error ?? `HTTP ${out.httpStatus ?? '?'}`)}`;
      if (msg.event === 'trigger') await ctx.store.resolveEscalation(msg.dedupKey, ctx.now); // so the next run tries again
      ctx.problems.push({ stage: 'notify', reason: REASON.ESCALATION_FAILED, detail: note });
      return { sent: false, note };
    }
    if (msg.event === 'resolve') await ctx.store.resolveEscalation(msg.dedupKey, ctx.now);
    return { sent: true, note: `${msg.event === 'trigger' ? 'escalated' : 'resolved'} on ${channelName}` };
  }
}

export const notifyStage: Stage = {
  name: 'notify',
  async run(ctx) {
    const channels = new Channels(ctx);
    const escalating = new Set<string>();
    for (const d of ctx.decisions) {
      const esc = d.rule.escalate;
      // Already part of a message (a breaker escalates once for a whole group): not again per decision.
      if (!esc?.to || d.escalation) continue;
      const trig = escalationTrigger(d);
      if (!trig || !esc.on.has(trig)) continue;
      const dedupKey = dedupKeyOf(d.rule.name, d.target.id);
      escalating.add(dedupKey);
      const summary = summaryOf(d);
      const msg: EscalationMessage = {
        dedupKey,
        event: 'trigger',
        summary,
        severity: d.rule.severity,
        source: 'reflex',
        rule: d.rule.name,
        target: d.target.id,
        runbook: d.rule.runbook,
        details: {
          run: ctx.runId,
          outcome: d.outcome,
          why: d.trace.map((v) => `${v.stage}: ${v.reason}: ${v.detail}`),
          conditions: d.conditions.map((c) => `${c.name}: ${c.result}`),
        },
      };
      const shadow = d.rule.mode === 'dry-run';
      const r = await channels.send(esc.to, msg, shadow);
      d.escalation = { channel: esc.to, dedupKey, summary, sent: r.sent };
      d.trace.push({
        stage: 'notify',
        reason: r.sent
          ? REASON.ESCALATED
          : r.note.startsWith('already')
            ? REASON.ESCALATION_DEDUP
            : r.note.startsWith('would')
              ? REASON.DRY_RUN
              : REASON.ESCALATION_FAILED,
        detail: r.note,
      });
      if (d.rule.steps.length === 0 && d.outcome === 'matched') d.outcome = ctx.dryRun || shadow ? 'dry_run' : 'escalated';
    }
    // Problems that went away: resolve their open escalations (only for targets this run evaluated).
    if (ctx.dryRun) return;
    const open = await ctx.store.listEscalations({ status: 'open', limit: 10_000 });
    // A sharded run resolves only its own shards' escalations: it has no decisions about the others.
    const present = ctx.shards?.targetsIn(ctx.targets) ?? new Set(ctx.targets.map((t) => t.id));
    for (const e of open) {
      if (escalating.has(e.dedupKey) || !e.dedupKey.startsWith('reflex/')) continue;
      const [, rule, ...rest] = e.dedupKey.split('/');
      const target = rest.join('/');
      const r = ctx.ruleSet.rules.find((x) => x.name === rule);
      if (!r || !target || !present.has(target)) continue;
      const stillThere = ctx.decisions.some((d) => d.rule.name === rule && d.target.id === target && d.outcome !== 'not_matched');
      if (stillThere) continue;
      await channels.send(e.channel, {
        dedupKey: e.dedupKey,
        event: 'resolve',
        summary: `resolved: ${e.summary}`,
        severity: r.severity,
        source: 'reflex',
        rule,
        target,
        details: { run: ctx.runId },
      });
    }
  },
};
