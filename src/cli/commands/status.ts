// `reflex status`: is automation on, what is disabled or cooling down, what needs a human, what shadow rules would do.
import { approvalLine, verificationLine } from '../../explain/verify.js';
import { describeDisable, describeSwitch, switchOff } from '../../guards/switches.js';
import { GUARDRAIL_REASONS, REASON } from '../../pipeline/reasons.js';
import { latestRound, roundDecisions, scaleOutStatus } from '../../pipeline/shards.js';
import type { DecisionRecord } from '../../store/types.js';
import { formatDuration } from '../../util/duration.js';
import { loadOrExit, openStoreOrExit } from '../project.js';

export default async function status(opts: { config?: string; json?: boolean }): Promise<number> {
  const { project } = await loadOrExit(opts);
  const store = await openStoreOrExit(project);
  const now = Date.now();
  try {
    const sw = await store.getSwitch();
    const disables = await store.listDisables({ activeAt: now });
    const cooldowns = await store.listCooldowns(now);
    const escalations = await store.listEscalations({ status: 'open', limit: 100 });
    const leases = await store.listLeases();
    const sh = project.config.shards;
    const scaleOut = await scaleOutStatus(store, { count: sh.count, by: sh.by }, now);
    const runs = await store.listRuns({ limit: 1 });
    const lastRun = runs[0] ?? null;
    const interrupted = (await store.listExecutions({ limit: 200 })).filter(
      (e) => e.status === 'interrupted' && now - (e.finishedAt ?? e.createdAt) < 7 * 86_400_000,
    );
    // Shadow mode: what dry-run rules would have done in the latest enforcing run.
    // With shards, "the latest run" is the latest of each shard (docs/scale-out.md): each run decided about its own shards.
    const recent = await store.listRuns({ limit: sh.count > 1 ? 200 : 20 });
    const layout = { count: sh.count, by: sh.by };
    const decisionsOf = async (round: ReturnType<typeof latestRound<(typeof recent)[number]>>) =>
      roundDecisions(await Promise.all(round.map(async (x) => ({ owns: x.owns, decisions: await store.getDecisions(x.run.id) }))), layout);
    const enforceRound = latestRound(
      recent.filter((r) => r.mode === 'enforce' && r.finishedAt !== null),
      sh.count,
    );
    const enforceRuns = enforceRound.map((x) => x.run);
    const lastEnforce = enforceRuns[0];
    const shadow = (await decisionsOf(enforceRound)).filter((d) => d.trace.some((v) => v.reason === REASON.SHADOW));
    // Guardrails: what breakers and limits stopped in the latest finished run, and who changed switches lately.
    const finishedRound = latestRound(
      recent.filter((r) => r.finishedAt !== null),
      sh.count,
    );
    const finishedRuns = finishedRound.map((x) => x.run);
    const lastFinished = finishedRuns[0] ?? null;
    const stopped = lastFinished ? guardrailsStopped(await decisionsOf(finishedRound)) : [];
    const runIds = (rs: { id: number }[]) => `run${rs.length > 1 ? 's' : ''} ${rs.map((r) => `#${r.id}`).join(', ')}`;
    const audit = await store.listAudit(10);
    const verifications = await store.listVerifications({ open: true, limit: 100 });
    const approvals = await store.listApprovals({ status: ['pending', 'approved'], limit: 100 });
    // How much room the store takes, and what retention keeps (docs/performance.md).
    const size = await store.size();
    const retention = project.config.retention;
    const doc = {
      automation: switchOff(sw, now) ? 'off' : 'on',
      switch: sw,
      disables,
      cooldowns,
      escalations,
      interrupted,
      leases,
      runners: scaleOut.runners,
      shards: { count: sh.count, by: sh.by ?? null, maxPerRunner: sh.max_per_runner ?? null, lease: sh.lease, list: scaleOut.shards },
      lastRun,
      shadow: { run: lastEnforce?.id ?? null, runs: enforceRuns.map((r) => r.id), decisions: shadow },
      guardrails: { run: lastFinished?.id ?? null, runs: finishedRuns.map((r) => r.id), stopped },
      audit,
      verifications,
      approvals,
      store: { kind: store.kind, ...size, retention: { age: retention.runs, maxRuns: retention.max_runs ?? null } },
    };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      return 0;
    }
    const out: string[] = [];
    out.push(`automation: ${switchOff(sw, now) ? `OFF — ${describeSwitch(sw, now)}` : 'on'}`);
    if (lastRun) {
      const s = lastRun.summary as { targets?: number; problems?: unknown[] };
      out.push(
        `last run: #${lastRun.id} ${lastRun.mode} at ${new Date(lastRun.startedAt).toISOString()} (${formatDuration(now - lastRun.startedAt)} ago), ${lastRun.status}, ${s.targets ?? '?'} targets${s.problems?.length ? `, ${s.problems.length} problem(s)` : ''}`,
      );
    } else out.push('last run: none yet');
    out.push(
      `store: ${formatBytes(size.bytes)} (${store.kind}), ${size.runs} run${size.runs === 1 ? '' : 's'} kept${size.oldestRunAt !== null ? ` since ${new Date(size.oldestRunAt).toISOString()}` : ''}; retention ${retention.runs}${retention.max_runs === undefined ? '' : ` or ${retention.max_runs} runs`}`,
    );
    out.push(`disables: ${disables.length ? '' : 'none'}`);
    for (const d of disables) out.push(`  #${d.id} ${describeDisable(d, now)}`);
    out.push(`cooldowns in force: ${cooldowns.length ? '' : 'none'}`);
    for (const c of cooldowns) out.push(`  ${c.key}: ${formatDuration(c.until - now)} left (last at ${new Date(c.lastAt).toISOString()})`);
    if (lastFinished) out.push(`breakers and limits in ${runIds(finishedRuns)}: ${stopped.length ? '' : 'none tripped'}`);
    for (const g of stopped)
      out.push(
        `  ${g.reason} stopped ${g.count} decision${g.count === 1 ? '' : 's'} (${g.examples.join(', ')}${g.count > g.examples.length ? ', ...' : ''}): ${g.detail}`,
      );
    out.push(`open escalations: ${escalations.length ? '' : 'none'}`);
    for (const e of escalations) out.push(`  ${e.dedupKey} on ${e.channel}: ${e.summary} (since ${new Date(e.firstAt).toISOString()}, seen ${e.count}x)`);
    if (interrupted.length) {
      out.push('interrupted executions (outcome unknown, not re-run; check by hand):');
      for (const e of interrupted) out.push(`  #${e.id} ${e.action} on ${e.target} (rule ${e.rule}, run #${e.runId}): ${e.describe}`);
    }
    const ineffective = verifications.filter((v) => v.status === 'ineffective');
    const pendingChecks = verifications.filter((v) => v.status === 'pending');
    if (verifications.length) {
      out.push(`verifications: ${ineffective.length} ineffective (stopping their rule), ${pendingChecks.length} pending`);
      for (const v of [...ineffective, ...pendingChecks.slice(0, 20)]) out.push(`  ${verificationLine(v, now)}`);
      if (pendingChecks.length > 20) out.push(`  ... and ${pendingChecks.length - 20} more pending (reflex status --json)`);
    }
    out.push(`awaiting approval: ${approvals.filter((a) => a.status === 'pending').length || 'none'}`);
    for (const a of approvals) out.push(`  ${approvalLine(a, now)}`);
    if (shadow.length) {
      out.push(`shadow mode (dry-run rules) in ${runIds(enforceRuns)} would have:`);
      for (const d of shadow) out.push(`  ${d.rule} on ${d.target}: ${d.actions?.map((a) => a.describe).join('; ') ?? ''}`);
    }
    const ago = (t: number) => `${formatDuration(Math.max(0, now - t))} ago`;
    // Runners matter when several share the work: several hosts lately, or a sharded layout.
    if (sh.count > 1 || scaleOut.runners.length > 1) {
      out.push(`runners (hosts with runs in the last 24h): ${scaleOut.runners.length || 'none'}`);
      for (const r of scaleOut.runners.slice(0, 20)) {
        const l = r.lastRun;
        const last = l ? `last run #${l.id} ${ago(l.startedAt)}, ${l.status}${l.shards ? ` (${l.shards})` : ''}; ${r.runs} run(s)` : 'no run recorded';
        out.push(`  ${r.host}: ${last}${r.holds.length ? `; holds ${r.holds.join(', ')} now` : ''}`);
      }
      if (scaleOut.runners.length > 20) out.push(`  ... and ${scaleOut.runners.length - 20} more (reflex status --json)`);
    }
    if (sh.count > 1) {
      const list = scaleOut.shards;
      const held = list.filter((x) => x.holder && !x.holder.expired).length;
      out.push(
        `shards: ${sh.count} by ${sh.by ? `label ${sh.by}` : 'target id'}, at most ${sh.max_per_runner ?? sh.count} per run, lease ${sh.lease}; ${held} held now`,
      );
      const never = list.filter((x) => !x.lastRun);
      const stalest = list.filter((x) => x.lastRun).sort((a, b) => a.lastRun!.startedAt - b.lastRun!.startedAt)[0];
      if (never.length)
        out.push(
          `  not worked on lately (no run of the last 24h, or of the latest 1000 runs): ${never.map((x) => x.shard).join(', ')} (too few runners for max_per_runner?)`,
        );
      if (stalest)
        out.push(
          `  least recently worked on: shard ${stalest.shard}, ${ago(stalest.lastRun!.startedAt)} by ${stalest.lastRun!.holder} (run #${stalest.lastRun!.id})`,
        );
      if (sh.count <= 32) {
        for (const x of list) {
          const h = x.holder
            ? `${x.holder.expired ? 'expired lease of' : 'held by'} ${x.holder.holder} (token ${x.holder.token}${x.holder.expired ? '' : `, expires in ${formatDuration(x.holder.expiresAt - now)}`})`
            : 'free';
          out.push(
            `  shard ${x.shard}: ${h}${x.lastRun ? `; last run #${x.lastRun.id} ${ago(x.lastRun.startedAt)} by ${x.lastRun.holder}, ${x.lastRun.status}` : ''}`,
          );
        }
      }
    }
    if (audit.length) {
      out.push('recent changes (audit log):');
      for (const a of audit) out.push(`  ${new Date(a.at).toISOString()} ${a.by}: ${a.action} ${auditText(a.detail)}`);
    }
    if (leases.length) {
      out.push('leases:');
      for (const l of leases)
        out.push(`  ${l.name}: ${l.holder}, token ${l.token}, ${l.expiresAt > now ? `expires in ${formatDuration(l.expiresAt - now)}` : 'expired'}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** Decisions of a run stopped by a breaker or a limit, grouped by reason and detail (the numbers). */
export function guardrailsStopped(decisions: DecisionRecord[]): { reason: string; detail: string; count: number; examples: string[] }[] {
  const out = new Map<string, { reason: string; detail: string; count: number; examples: string[] }>();
  for (const d of decisions) {
    const v = d.trace.filter((x) => x.stops).pop();
    if (!v || !GUARDRAIL_REASONS.has(v.reason)) continue;
    const key = `${v.reason}\u0000${v.detail}`;
    let g = out.get(key);
    if (!g) out.set(key, (g = { reason: v.reason, detail: v.detail, count: 0, examples: [] }));
    g.count++;
    if (g.examples.length < 3) g.examples.push(`${d.rule} on ${d.target}`);
  }
  return [...out.values()];
}

function auditText(detail: Record<string, unknown>): string {
  const parts: string[] = [];
  if (detail.value !== undefined) parts.push(String(detail.value));
  if (detail.reason) parts.push(`"${String(detail.reason)}"`);
  if (typeof detail.until === 'number') parts.push(`until ${new Date(detail.until).toISOString()}`);
  return parts.join(' ');
}

/** Bytes for people: 812 B, 3.4 MB, 1.2 GB. */
function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) (v /= 1000), i++;
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
