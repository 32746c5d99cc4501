// `reflex history`: decisions (with their executions) or runs, newest first.
import { UserError } from '../../errors.js';
import { decisionLine } from '../../explain/text.js';
import { verificationLine } from '../../explain/verify.js';
import { parseUntil } from '../../util/duration.js';
import { loadOrExit, openStoreOrExit } from '../project.js';

export default async function history(opts: {
  config?: string;
  target?: string;
  rule?: string;
  since?: string;
  runs?: boolean;
  limit?: string;
  json?: boolean;
}): Promise<number> {
  const { project } = await loadOrExit(opts);
  const limit = Number(opts.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1) throw new UserError(`--limit must be a positive whole number, not "${opts.limit}"`);
  let since: number | undefined;
  if (opts.since) {
    try {
      const now = Date.now();
      // "--since 2h" means two hours ago.
      since = /^\d/.test(opts.since) && !opts.since.includes('-') ? 2 * now - parseUntil(opts.since, now) : parseUntil(opts.since, now);
    } catch (err) {
      throw new UserError(`--since: ${(err as Error).message}`);
    }
  }
  const store = await openStoreOrExit(project);
  try {
    if (opts.runs) {
      const runs = await store.listRuns({ limit, since });
      if (opts.json) process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
      else {
        for (const r of runs) {
          const s = r.summary as { targets?: number; outcomes?: Record<string, number>; problems?: unknown[] };
          const outcomes = Object.entries(s.outcomes ?? {})
            .filter(([k, n]) => k !== 'not_matched' && n)
            .map(([k, n]) => `${n} ${k}`)
            .join(', ');
          const dur = r.finishedAt ? `${r.finishedAt - r.startedAt} ms` : 'unfinished';
          process.stdout.write(
            `run #${r.id}  ${new Date(r.startedAt).toISOString()}  ${r.mode.padEnd(7)}  ${r.status.padEnd(8)}  ${dur}  ${s.targets ?? '?'} targets  ${outcomes || 'nothing matched'}${s.problems?.length ? `  ${s.problems.length} problem(s)` : ''}\n`,
          );
        }
        if (runs.length === 0) process.stdout.write('no runs recorded\n');
      }
      return 0;
    }
    const decisions = await store.decisionHistory({ target: opts.target, rule: opts.rule, since, limit });
    const execs = await store.listExecutions({ target: opts.target, rule: opts.rule, since, limit });
    const ids = execs.map((e) => e.id);
    const verified = new Map((ids.length ? await store.listVerifications({ executionIds: ids, limit: ids.length }) : []).map((v) => [v.executionId, v]));
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ decisions, executions: execs.map((e) => (verified.has(e.id) ? { ...e, verification: verified.get(e.id) } : e)) }, null, 2)}\n`,
      );
      return 0;
    }
    for (const d of decisions) process.stdout.write(`run #${d.runId}  ${new Date(d.at).toISOString()}  ${decisionLine(d)}\n`);
    if (decisions.length === 0) process.stdout.write('no decisions recorded (not-matched decisions are not listed; use reflex why)\n');
    if (execs.length) {
      process.stdout.write('\nexecutions:\n');
      for (const e of execs) {
        const code = e.exitCode !== null ? ` exit ${e.exitCode}` : e.httpStatus !== null ? ` HTTP ${e.httpStatus}` : '';
        process.stdout.write(
          `  #${e.id}  ${new Date(e.createdAt).toISOString()}  ${e.status.padEnd(11)} ${e.rule}  ${e.action} on ${e.target}${code}${e.durationMs !== null ? ` ${e.durationMs} ms` : ''}  run #${e.runId}\n` +
            `        intent ${new Date(e.createdAt).toISOString()} -> started ${e.startedAt ? new Date(e.startedAt).toISOString() : '-'} -> finished ${e.finishedAt ? new Date(e.finishedAt).toISOString() : '-'}\n` +
            `        ${e.describe}${e.error ? `\n        error: ${e.error}` : ''}\n` +
            (verified.has(e.id) ? `        ${verificationLine(verified.get(e.id)!, Date.now())}\n` : ''),
        );
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}
