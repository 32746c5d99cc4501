// Notify: the one exit for people. After the fence, it carries out the run's outbox (a breaker's disable, the messages
// guards and recovery asked for), then hands to humans what automation did not handle: one message per cause
// (a switch, a disable, a limit: never one page per target), one alarm per rule that is blind, and the escalations
// of single decisions; then it resolves what went away. Everything is deduplicated through the store.
import { createChannel } from '../../actions/channels/index.js';
import { renderTemplate } from '../../actions/template.js';
import type { Channel, EscalationMessage } from '../../actions/types.js';
import type { Decision } from '../../rules/evaluate.js';
import type { CompiledRule, EscalateOn } from '../../rules/ruleset.js';
import type { EscalationRecord } from '../../store/types.js';
import { parseDuration } from '../../util/duration.js';
import { scopeOf } from '../decision.js';
import { breakerProblems } from '../exit.js';
import { withContext } from '../message.js';
import type { OutboxMessage } from '../outbox.js';
import { REASON, type Reason } from '../reasons.js';
import type { RunContext, Stage } from '../types.js';

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
/** One message per rule and cause (a guardrail that stopped several of its decisions for the same reason). */
export const CAUSE_KEY_PREFIX = 'reflex-cause/';
/** One alarm per rule that cannot see (its decisions unknown for all or most of its targets). */
export const BLIND_KEY_PREFIX = 'reflex-blind/';

/** Causes people set themselves: whether they hear of each stopped decision is `escalate.switched_off`. */
const SWITCHED_OFF: ReadonlySet<Reason> = new Set([
  REASON.SWITCH_OFF,
  REASON.DISABLED_RULE,
  REASON.DISABLED_ACTION,
  REASON.DISABLED_TARGET,
  REASON.DISABLED_SELECTOR,
]);
/** Guardrails whose stops are summarised per rule and cause: one message however many targets they stop. */
const CAUSES: ReadonlySet<Reason> = new Set([
  ...SWITCHED_OFF,
  REASON.SWITCH_UNREADABLE,
  REASON.GUARD_UNREADABLE,
  REASON.BLAST_RULE,
  REASON.BLAST_ACTION,
  REASON.BLAST_GROUP,
  REASON.MIN_HEALTHY,
  REASON.BUDGET,
  REASON.BREAKER_FAILURES,
]);

/** How many targets a summary names before "and N more". */
const FIRST = 5;

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

/** `web-1, web-2, web-3 and 7 more` */
function firstOf(ids: string[]): string {
  const head = ids.slice(0, FIRST).join(', ');
  return ids.length > FIRST ? `${head} and ${ids.length - FIRST} more` : head;
}

/** What a send came to. `open`: the same message is open already (deduplicated); `preview`: described, not sent. */
export type SendResult = { result: 'sent' | 'open' | 'preview' | 'failed'; note: string };

const TRACE_REASON: Record<SendResult['result'], Reason> = {
  sent: REASON.ESCALATED,
  open: REASON.ESCALATION_DEDUP,
  preview: REASON.DRY_RUN,
  failed: REASON.ESCALATION_FAILED,
};

export class Channels {
  private readonly cache = new Map<string, Channel>();
  private open: Map<string, EscalationRecord> | null = null;
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

  /** The open escalations (read once per run). */
  async openEscalations(): Promise<Map<string, EscalationRecord>> {
    this.open ??= new Map((await this.ctx.store.listEscalations({ status: 'open', limit: 10_000 })).map((e) => [e.dedupKey, e]));
    return this.open;
  }

  /**
   * Send (or in a dry run, describe) one message, deduplicated through the store: a trigger whose key is open
   * already is not sent again, unless `update` is set and its summary changed. A trigger is recorded as open
   * only once its channel accepted it, so a run killed in between sends it again next time (at least once).
   * `shadow`: the message comes from a rule in dry-run mode, which never pages anyone.
   */
  async send(channelName: string, msg: EscalationMessage, opts: { shadow?: boolean; update?: boolean } = {}): Promise<SendResult> {
    const ctx = this.ctx;
    const channel = this.get(channelName);
    if (!channel) return { result: 'failed', note: `no channel "${channelName}"` };
    if (ctx.dryRun || opts.shadow)
      return {
        result: 'preview',
        note: `would ${msg.event} on ${channelName}${opts.shadow ? ' (rule in dry-run mode)' : ''}: ${channel.describe(msg)}`,
      };
    const open = await this.openEscalations();
    const prev = open.get(msg.dedupKey);
    if (msg.event === 'trigger' && prev && !(opts.update && prev.summary !== msg.summary)) {
      await ctx.store.openEscalation({ dedupKey: msg.dedupKey, channel: channelName, summary: msg.summary, at: ctx.now });
      return { result: 'open', note: `already escalated to ${channelName} (open, dedup key ${msg.dedupKey}): not paging again` };
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
      ctx.problems.push({ stage: 'notify', reason: REASON.ESCALATION_FAILED, detail: note });
      return { result: 'failed', note };
    }
    if (msg.event === 'resolve') {
      await ctx.store.resolveEscalation(msg.dedupKey, ctx.now);
      open.delete(msg.dedupKey);
      return { result: 'sent', note: `resolved on ${channelName}` };
    }
    await ctx.store.openEscalation({ dedupKey: msg.dedupKey, channel: channelName, summary: msg.summary, at: ctx.now });
    open.set(msg.dedupKey, { dedupKey: msg.dedupKey, channel: channelName, status: 'open', summary: msg.summary, firstAt: ctx.now, lastAt: ctx.now, count: 1 });
    return { result: 'sent', note: `${prev ? 'updated' : 'escalated'} on ${channelName}` };
  }

  /** `send`, with a channel failure or a store error reported as a failed send (the decisions stay as they are). */
  async trySend(channelName: string, msg: EscalationMessage, opts: { shadow?: boolean; update?: boolean } = {}): Promise<SendResult> {
    let r: SendResult;
    try {
      r = await this.send(channelName, msg, opts);
    } catch (err) {
      const note = `escalation to ${channelName} failed: ${this.ctx.redact((err as Error).message)}`;
      this.ctx.problems.push({ stage: 'notify', reason: REASON.ESCALATION_FAILED, detail: note });
      r = { result: 'failed', note };
    }
    // For reflex_escalations_total: what reached a channel or failed to (not dedups, not previews).
    if (r.result === 'sent' || r.result === 'failed') {
      const c = ((this.ctx.escalationResults ??= {})[channelName] ??= { sent: 0, failed: 0 });
      c[r.result]++;
    }
    return r;
  }
}

/**
 * Deliver one message that stands for several decisions (a breaker's, a cause's, a blind rule's). Its decisions
 * get one short line each and the escalation; `escalate` (breakers) also ends them `escalated` when the message
 * is sent or open already. When it could not be sent, they keep no escalation: the per-decision pass escalates
 * them as their rules say.
 */
async function deliver(ctx: RunContext, channels: Channels, m: OutboxMessage, keys: Set<string>, escalate: boolean): Promise<void> {
  const all = `one escalation for all ${m.decisions.length} (dedup key ${m.message.dedupKey})`;
  if (!m.channel) {
    for (const d of m.decisions) d.trace.push({ stage: 'notify', reason: REASON.ESCALATION_FAILED, detail: 'no channel to tell (set defaults.escalate_to)' });
    ctx.log.warn(`nobody to tell: ${m.message.summary} (set defaults.escalate_to)`);
    return;
  }
  const r = await channels.trySend(m.channel, withContext(ctx, m.message, m.decisions), { shadow: m.shadow, update: m.update });
  if (r.result === 'sent' || r.result === 'open') keys.add(m.message.dedupKey);
  const note =
    r.result === 'sent'
      ? `${all}: ${r.note}`
      : r.result === 'open'
        ? `${all}: already open on ${m.channel}, not paging again`
        : r.result === 'preview'
          ? `${all}: would trigger on ${m.channel}${m.shadow ? ' (rules in dry-run mode)' : ''}`
          : `${all}: ${r.note}`;
  m.decisions.forEach((d, i) => {
    d.trace.push({ stage: 'notify', reason: TRACE_REASON[r.result], detail: i === 0 && r.result === 'preview' ? r.note : note });
    if (escalate && (r.result === 'sent' || r.result === 'open')) d.outcome = 'escalated';
    // The message stands for the decision (a preview too, so it shows what a real run would send): not again per decision.
    if (r.result !== 'failed') d.escalation = { channel: m.channel!, dedupKey: m.message.dedupKey, summary: m.message.summary, sent: r.result === 'sent' };
  });
}

/** The dedup-key suffix of a sharded run's per-rule messages: each runner speaks for its own shards. */
function shardSuffix(ctx: RunContext): string {
  return ctx.shards ? `@${ctx.shards.describe()}` : '';
}

const severityOf = (r: CompiledRule): EscalationMessage['severity'] => (r.severity === 'info' ? 'warning' : r.severity);
const stopOf = (d: Decision) => d.trace.filter((v) => v.stops).pop();

/**
 * Decisions a guardrail stopped for one cause, grouped per rule and cause: one message each. `quiet`: decisions
 * people stopped themselves whose rule says `switched_off: none` (no message at all).
 */
function causeMessages(ctx: RunContext): { messages: OutboxMessage[]; quiet: Set<Decision> } {
  const quiet = new Set<Decision>();
  const groups = new Map<string, Decision[]>();
  for (const d of ctx.decisions) {
    const esc = d.rule.escalate;
    if (!esc?.to || d.escalation || d.outcome !== 'blocked' || !esc.on.has('blocked')) continue;
    const reason = stopOf(d)?.reason;
    if (!reason || !CAUSES.has(reason)) continue;
    if (SWITCHED_OFF.has(reason) && esc.switchedOff !== 'summary') {
      if (esc.switchedOff === 'none') quiet.add(d);
      continue; // `each`: the per-decision pass pages it on its own
    }
    const key = `${d.rule.name}\u0000${reason}`;
    let l = groups.get(key);
    if (!l) groups.set(key, (l = []));
    l.push(d);
  }
  const out: OutboxMessage[] = [];
  for (const decisions of groups.values()) {
    const first = decisions[0]!;
    const rule = first.rule;
    const verdict = stopOf(first)!;
    const ids = decisions.map((d) => d.target.id).sort();
    const n = decisions.length;
    const list = `reflex why --rule ${rule.name} --run ${ctx.runId}`;
    out.push({
      channel: rule.escalate!.to,
      shadow: decisions.every((d) => !ctx.dryRun && d.rule.mode === 'dry-run'),
      update: true,
      decisions,
      message: {
        dedupKey: `${CAUSE_KEY_PREFIX}${rule.name}/${verdict.reason}${shardSuffix(ctx)}`,
        event: 'trigger',
        summary: `${rule.name}: ${n} target${n === 1 ? '' : 's'} not acted on (${firstOf(ids)}): ${verdict.detail}`,
        severity: severityOf(rule),
        source: 'reflex',
        rule: rule.name,
        runbook: rule.runbook,
        at: ctx.now,
        details: {
          run: ctx.runId,
          cause: verdict.reason,
          why: verdict.detail,
          description: rule.description,
          count: n,
          targets: ids.slice(0, 50),
          list_all: list,
        },
      },
    });
  }
  return { messages: out, quiet };
}

/**
 * The blind-automation alarm: a rule whose decisions are unknown for all (or `guardrails.blind.fraction`) of the
 * targets it evaluated cannot do its job. One message per rule, whatever its `escalate.on` says, standing for its
 * unknown decisions (no page per target); resolved when it can see again.
 */
function blindMessages(ctx: RunContext): { messages: OutboxMessage[]; blind: Set<string> } {
  const { fraction, min_targets } = ctx.project.config.guardrails.blind;
  const counts = ctx.evaluation?.counts ?? {};
  const unknown = new Map<string, Decision[]>();
  for (const d of ctx.decisions) {
    if (d.outcome !== 'unknown' || d.rule.derive) continue;
    let l = unknown.get(d.rule.name);
    if (!l) unknown.set(d.rule.name, (l = []));
    l.push(d);
  }
  const messages: OutboxMessage[] = [];
  const blind = new Set<string>();
  for (const [name, decisions] of unknown) {
    const evaluated = counts[name]?.evaluated ?? decisions.length;
    if (decisions.length < min_targets || decisions.length < fraction * evaluated) continue;
    blind.add(name);
    const rule = decisions[0]!.rule;
    // Why it cannot see: the distinct reasons its conditions gave (a failed source, a stale one, a missing fact).
    const why = [...new Set(decisions.flatMap((d) => d.conditions.filter((c) => c.result === 'unknown' && c.unknown).map((c) => c.unknown!)))];
    const because = why.length ? why.slice(0, 3).join('; ') + (why.length > 3 ? `; and ${why.length - 3} more reasons` : '') : 'its facts are unknown';
    const n = decisions.length;
    messages.push({
      channel: rule.escalate?.to ?? ctx.project.config.defaults.escalate_to ?? null,
      shadow: !ctx.dryRun && rule.mode === 'dry-run',
      update: false,
      decisions: rule.escalate?.on.has('unknown') ? decisions : [],
      message: {
        dedupKey: `${BLIND_KEY_PREFIX}${name}${shardSuffix(ctx)}`,
        event: 'trigger',
        summary: `automation is blind for rule ${name}: ${n === evaluated ? 'all' : `${n} of`} ${evaluated} target${evaluated === 1 ? '' : 's'} unknown: ${because}`,
        severity: 'warning',
        source: 'reflex',
        rule: name,
        runbook: rule.runbook,
        at: ctx.now,
        details: {
          run: ctx.runId,
          unknown: n,
          evaluated,
          reasons: why.slice(0, 20),
          targets: decisions.map((d) => d.target.id).slice(0, 50),
          list_all: `reflex why --rule ${name} --run ${ctx.runId}`,
        },
      },
    });
  }
  return { messages, blind };
}

export const notifyStage: Stage = {
  name: 'notify',
  async run(ctx) {
    const channels = new Channels(ctx);
    /** Keys triggered (or found open) by this run: never resolved by it. */
    const escalating = new Set<string>();

    // 1. Writes guards decided on (the failure breaker's disable and its audit record), then their messages.
    for (const w of ctx.outbox.disables) {
      let id: number | null = null;
      if (!ctx.dryRun) {
        try {
          id = await ctx.store.addDisable(w.disable);
          await ctx.store.appendAudit({ ...w.audit, detail: { id, ...w.audit.detail } });
        } catch (err) {
          // The rule stayed stopped in this run; the next run counts again and retries the disable.
          const detail = `the disable of ${w.disable.scope} ${w.disable.value} could not be written: ${ctx.redact((err as Error).message)}`;
          ctx.problems.push({ stage: 'notify', reason: REASON.STORE_ERROR, detail });
          ctx.log.warn(detail);
        }
      }
      if (w.message) {
        if (id !== null) w.message.message.details = { ...w.message.message.details, disable: id };
        await deliver(ctx, channels, w.message, escalating, true);
      }
    }
    // 2. Messages guards and recovery asked for (breakers, interrupted executions).
    for (const m of ctx.outbox.messages) await deliver(ctx, channels, m, escalating, true);

    // 3. Rules that cannot see: one alarm each. Blindness and breakers are problems of the run (its exit status says so).
    const { messages: blindAlarms, blind } = blindMessages(ctx);
    for (const m of blindAlarms) ctx.problems.push({ stage: 'notify', reason: REASON.BLIND, detail: m.message.summary });
    ctx.problems.push(...breakerProblems(ctx));
    ctx.blindRules = [...blind];
    for (const m of blindAlarms) await deliver(ctx, channels, m, escalating, false);

    // 4. One message per rule and cause for what guardrails stopped.
    const { messages: causes, quiet } = causeMessages(ctx);
    const causeKeys = new Set(causes.map((m) => m.message.dedupKey));
    for (const m of causes) await deliver(ctx, channels, m, escalating, false);

    // 5. Single decisions, as their rules say.
    for (const d of ctx.decisions) {
      const esc = d.rule.escalate;
      if (!esc?.to || d.escalation || quiet.has(d)) continue;
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
        at: ctx.now,
        details: {
          run: ctx.runId,
          outcome: d.outcome,
          description: d.rule.description,
          why: d.trace.map((v) => `${v.stage}: ${v.reason}: ${v.detail}`),
        },
      };
      const shadow = d.rule.mode === 'dry-run';
      const r = await channels.trySend(esc.to, withContext(ctx, msg, [d]), { shadow });
      d.escalation = { channel: esc.to, dedupKey, summary, sent: r.result === 'sent' };
      d.trace.push({ stage: 'notify', reason: TRACE_REASON[r.result], detail: r.note });
      if (d.rule.steps.length === 0 && d.outcome === 'matched') d.outcome = ctx.dryRun || shadow ? 'dry_run' : 'escalated';
    }

    // 6. Problems that went away: resolve their open escalations.
    if (ctx.dryRun) return;
    const open = [...(await channels.openEscalations()).values()];
    const resolve = (e: EscalationRecord, rule?: string, target?: string) =>
      channels.trySend(e.channel, {
        dedupKey: e.dedupKey,
        event: 'resolve',
        summary: `resolved: ${e.summary}`,
        severity: (rule && ctx.ruleSet.rules.find((x) => x.name === rule)?.severity) || 'warning',
        source: 'reflex',
        rule,
        target,
        at: ctx.now,
        details: { run: ctx.runId },
      });
    // Only for targets this run evaluated: a sharded run resolves only its own shards' escalations.
    const present = ctx.shards?.targetsIn(ctx.targets) ?? new Set(ctx.targets.map((t) => t.id));
    const suffix = shardSuffix(ctx);
    const ruleOf = (k: string, prefix: string) => {
      const rest = k.slice(prefix.length);
      const at = rest.lastIndexOf('@');
      return { rest: at === -1 ? rest : rest.slice(0, at), suffix: at === -1 ? '' : rest.slice(at) };
    };
    for (const e of open) {
      if (escalating.has(e.dedupKey)) continue;
      if (e.dedupKey.startsWith('reflex/')) {
        const [, rule, ...rest] = e.dedupKey.split('/');
        const target = rest.join('/');
        if (!rule || !target || !present.has(target) || !ctx.ruleSet.rules.some((x) => x.name === rule)) continue;
        const stillThere = ctx.decisions.some((d) => d.rule.name === rule && d.target.id === target && d.outcome !== 'not_matched');
        if (!stillThere) await resolve(e, rule, target);
      } else if (e.dedupKey.startsWith(CAUSE_KEY_PREFIX)) {
        // A cause clears when no decision of this run was stopped by it (for this runner's shards).
        const { rest, suffix: s } = ruleOf(e.dedupKey, CAUSE_KEY_PREFIX);
        const rule = rest.slice(0, rest.indexOf('/'));
        if (s !== suffix || !ctx.ruleSet.rules.some((x) => x.name === rule) || causeKeys.has(e.dedupKey)) continue;
        await resolve(e, rule);
      } else if (e.dedupKey.startsWith(BLIND_KEY_PREFIX)) {
        // Sight returns: the rule was evaluated in this run and is not blind.
        const { rest: rule, suffix: s } = ruleOf(e.dedupKey, BLIND_KEY_PREFIX);
        if (s !== suffix || blind.has(rule) || !(ctx.evaluation?.counts[rule]?.evaluated ?? 0)) continue;
        await resolve(e, rule);
      } else {
        // A breaker's: the breaker said whether its problem went away.
        if (ctx.outbox.resolves.some((r) => e.dedupKey.startsWith(r.prefix) && r.settled(e.dedupKey))) await resolve(e);
      }
    }
  },
};
