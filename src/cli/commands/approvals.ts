// `reflex approvals`: the decisions awaiting a person (id, rule, target, action with its parameters, facts, age), or with --all the recent answers too.
import { describeState } from '../../approvals/decide.js';
import { approveCommand, guardWords, whatOf } from '../../approvals/index.js';
import { formatValue } from '../../explain/text.js';
import type { FactValue } from '../../model.js';
import { formatDuration } from '../../util/duration.js';
import { loadOrExit, openStoreOrExit } from '../project.js';

export default async function approvals(opts: { config?: string; all?: boolean; limit?: string; json?: boolean }): Promise<number> {
  const { project } = await loadOrExit(opts);
  const store = await openStoreOrExit(project);
  try {
    const now = Date.now();
    const limit = Math.max(1, Number(opts.limit ?? 100) || 100);
    const list = await store.listApprovals(opts.all ? { limit } : { status: ['pending'], limit });
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify(
          list.map((a) => ({ ...a, ageMs: now - a.askedAt, approve: a.status === 'pending' ? approveCommand(a.id) : undefined })),
          null,
          2,
        )}\n`,
      );
      return 0;
    }
    if (list.length === 0) {
      process.stdout.write(opts.all ? 'no approvals recorded\n' : 'no decision is awaiting approval\n');
      return 0;
    }
    for (const a of list) {
      process.stdout.write(
        `#${a.id}  ${a.status.padEnd(9)} ${a.rule}  ${a.target}  asked ${formatDuration(Math.max(0, now - a.askedAt))} ago (run #${a.askedRun}, ${a.severity})\n` +
          `      action: ${whatOf(a)}\n` +
          `      stopped by ${guardWords(a.guard)}: ${a.why}\n` +
          `      facts: ${
            Object.entries(a.facts)
              .map(([k, v]) => `${k} = ${v === null ? 'unknown' : formatValue(v as FactValue)}`)
              .join(', ') || 'none read'
          }\n` +
          (a.status === 'pending'
            ? `      approve: ${approveCommand(a.id)}   reject: reflex reject ${a.id} --reason "..."\n`
            : `      ${describeState(a, now)}\n`),
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}
