// The only changes the console makes: the off switch, disables and enables, answers to approval requests and letting a
// rule act again after an ineffective action. The same code, store writes and audit records as `reflex disable` /
// `reflex enable` / `reflex approve` / `reflex reject`, with who (the name given at login) and from where (the client
// address).
import { AnswerRefused, approve, reject } from '../approvals/decide.js';
import { didYouMean } from '../config/diagnostics.js';
import { parseSelectorText, selectorText } from '../rules/selector.js';
import type { ApprovalRecord, DisableRecord, DisableScope, VerificationRecord } from '../store/types.js';
import { parseDuration, parseUntil } from '../util/duration.js';
import { clearIneffective } from '../verify/clear.js';
import { BadRequest, Conflict, NotFound, type ReadModel } from './data.js';

/** Who asked, for the audit log. */
export interface Actor {
  name: string;
  client: string;
  /** How they were authenticated: a login session (`console`) or a bearer token (`api`). */
  via: 'console' | 'api';
}

export interface DisableInput {
  scope: DisableScope;
  value: string;
  reason: string;
  /** A duration (`2h`) or a time (ISO); empty: until enabled again. */
  until?: string;
}

/** Reasons are free text from people, kept in the audit log: bounded, and never empty. */
function reasonOf(text: string | undefined, required: boolean): string | null {
  const r = (text ?? '').trim();
  if (!r) {
    if (required) throw new BadRequest('a reason is required: say why (it is kept in the audit log)');
    return null;
  }
  if (r.length > 1000) throw new BadRequest(`the reason is ${r.length} characters long; at most 1000`);
  return r;
}

function untilOf(text: string | undefined, now: number): number | null {
  const u = (text ?? '').trim();
  if (!u) return null;
  let until: number;
  try {
    until = parseUntil(u, now);
  } catch (err) {
    throw new BadRequest(`until: ${(err as Error).message}`);
  }
  if (until <= now) throw new BadRequest(`until ${u} is in the past`);
  return until;
}

export async function switchAutomation(
  m: ReadModel,
  who: Actor,
  off: boolean,
  input: { reason?: string; until?: string },
): Promise<{ off: boolean; wasOff: boolean }> {
  const now = m.clock();
  const store = m.store;
  const cur = await store.getSwitch();
  if (off) {
    const reason = reasonOf(input.reason, true)!;
    const until = untilOf(input.until, now);
    await store.setSwitch({ off: true, by: who.name, reason, at: now, until });
    await store.appendAudit({ at: now, by: who.name, action: 'disable:all', detail: { reason, until, client: who.client, via: who.via } });
  } else {
    const reason = reasonOf(input.reason, false);
    await store.setSwitch({ off: false, by: who.name, reason: reason ?? 'enabled', at: now, until: null });
    await store.appendAudit({ at: now, by: who.name, action: 'enable:all', detail: { reason, wasOff: cur.off, client: who.client, via: who.via } });
  }
  return { off, wasOff: cur.off };
}

/**
 * Add a disable. As `reflex disable` does, one that names nothing real is refused (it would protect nothing): a
 * rule or action must exist, a target or selector must match a target of the latest run.
 */
export async function addDisable(m: ReadModel, who: Actor, input: DisableInput): Promise<DisableRecord> {
  const now = m.clock();
  const reason = reasonOf(input.reason, true)!;
  const until = untilOf(input.until, now);
  const raw = (input.value ?? '').trim();
  if (!raw) throw new BadRequest(`a ${input.scope} disable needs a value; an empty one would match everything`);
  if (raw.length > 500) throw new BadRequest(`the value is ${raw.length} characters long; at most 500`);
  const { project, ruleSet } = m.loaded;
  let value = raw;
  let selector: Record<string, string> | null = null;
  switch (input.scope) {
    case 'rule': {
      const names = ruleSet.rules.map((r) => r.name);
      if (!names.includes(raw)) throw new BadRequest(`no rule "${raw}"${didYouMean(raw, names)} (rules: ${names.join(', ')})`);
      break;
    }
    case 'action': {
      const names = Object.keys(project.config.actions);
      if (!names.includes(raw)) throw new BadRequest(`no action "${raw}"${didYouMean(raw, names)} (actions: ${names.join(', ') || 'none'})`);
      break;
    }
    case 'target':
    case 'selector': {
      if (input.scope === 'selector') {
        try {
          selector = parseSelectorText(raw);
        } catch (err) {
          throw new BadRequest((err as Error).message);
        }
        value = selectorText(selector);
      }
      const latest = await m.latestFinished();
      if (!latest) throw new BadRequest('no run recorded yet, so no target is known: use `reflex disable` on the command line');
      const targets = (await m.snapshot(latest)).targets;
      const sel = selector;
      const hit = sel ? targets.some((t) => Object.entries(sel).every(([k, v]) => t.labels[k] === v)) : targets.some((t) => t.id === raw);
      if (!hit)
        throw new BadRequest(
          sel
            ? `no target of the latest run (#${latest.id}, ${targets.length} targets) has ${value}; a disable that matches nothing protects nothing`
            : `no target "${raw}" in the latest run (#${latest.id}, ${targets.length} targets)${didYouMean(
                raw,
                targets.map((t) => t.id),
              )}; a disable that matches nothing protects nothing`,
        );
      break;
    }
    default:
      throw new BadRequest(`unknown scope "${String(input.scope)}": rule, action, target or selector`);
  }
  const id = await m.store.addDisable({ scope: input.scope, value, selector, by: who.name, reason, createdAt: now, until });
  await m.store.appendAudit({
    at: now,
    by: who.name,
    action: `disable:${input.scope}`,
    detail: { id, value, reason, until, client: who.client, via: who.via },
  });
  const rec = (await m.store.listDisables({})).find((d) => d.id === id);
  return rec ?? { id, scope: input.scope, value, selector, by: who.name, reason, createdAt: now, until, removedAt: null, removedBy: null };
}

/** Lift one disable by its id; an id that is not active lifts nothing (and says so). */
export async function liftDisable(m: ReadModel, who: Actor, id: number, reasonText?: string): Promise<DisableRecord[]> {
  if (!Number.isSafeInteger(id) || id <= 0) throw new BadRequest(`not a disable id: ${id}`);
  const now = m.clock();
  const reason = reasonOf(reasonText, false);
  const lifted = await m.store.removeDisables({ id }, who.name, now);
  for (const d of lifted)
    await m.store.appendAudit({
      at: now,
      by: who.name,
      action: `enable:${d.scope}`,
      detail: { id: d.id, value: d.value, reason, client: who.client, via: who.via },
    });
  return lifted;
}

/**
 * Approve or reject a pending approval request, through the same function as `reflex approve` / `reflex reject`
 * (src/approvals/decide.ts), so the console refuses what the CLI refuses: an unknown id (404), one that is not pending
 * any more (409, saying how it stands), no reason (400).
 */
export async function answerApproval(
  m: ReadModel,
  who: Actor,
  id: number,
  answer: 'approve' | 'reject',
  input: { reason?: string; expires?: string },
): Promise<ApprovalRecord> {
  if (!Number.isSafeInteger(id) || id <= 0) throw new BadRequest(`not an approval id: ${id}`);
  const reason = reasonOf(input.reason, true)!;
  let expiresMs: number | undefined;
  const e = (input.expires ?? '').trim();
  if (answer === 'approve' && e) {
    try {
      expiresMs = parseDuration(e);
    } catch (err) {
      throw new BadRequest(`expires: ${(err as Error).message}`);
    }
    if (expiresMs <= 0) throw new BadRequest('expires must be longer than 0s');
  }
  const ans = { by: who.name, reason, now: m.clock(), expiresMs, audit: { client: who.client, via: who.via } };
  try {
    return answer === 'approve' ? await approve(m.store, id, ans) : await reject(m.store, id, ans);
  } catch (err) {
    if (!(err instanceof AnswerRefused)) throw err;
    if (err.why === 'missing') throw new NotFound(err.message);
    if (err.why === 'not_pending') throw new Conflict(err.message);
    throw new BadRequest(err.message);
  }
}

/**
 * Let a rule act on a target again where an earlier action did not help (verify:), as `reflex enable --rule R --target
 * T` does (src/verify/clear.ts). Clearing nothing is refused with what stands (409).
 */
export async function clearVerification(
  m: ReadModel,
  who: Actor,
  input: { rule?: string; target?: string; execution?: string; reason?: string },
): Promise<VerificationRecord[]> {
  let rule = (input.rule ?? '').trim();
  let target = (input.target ?? '').trim();
  // A form names the execution (a target id can hold characters a page does not carry as they are).
  if (input.execution !== undefined) {
    const id = Number(input.execution);
    if (!Number.isSafeInteger(id) || id <= 0) throw new BadRequest(`not an execution id: "${input.execution}"`);
    const [v] = await m.store.listVerifications({ executionIds: [id], limit: 1 });
    if (!v) throw new NotFound(`execution #${id} has no verification`);
    ({ rule, target } = v);
  }
  if (!rule || !target) throw new BadRequest('say which rule and which target (both): the rule acts on that target again');
  const reason = reasonOf(input.reason, false);
  const cleared = await clearIneffective(m.store, { rule, target }, { name: who.name, reason, at: m.clock(), audit: { client: who.client, via: who.via } });
  if (cleared.length === 0) throw new Conflict(`rule "${rule}" is not stopped on ${target} by an ineffective action; nothing changed`);
  return cleared;
}
