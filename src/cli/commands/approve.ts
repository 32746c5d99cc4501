// `reflex approve ID --reason`: a person's one-use "yes, do it" for a decision awaiting approval; audited.
import { approve } from '../../approvals/decide.js';
import { whatOf } from '../../approvals/index.js';
import { UserError } from '../../errors.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { loadOrExit, openStoreOrExit, who } from '../project.js';

export interface AnswerOpts {
  config?: string;
  reason?: string;
  by?: string;
  expires?: string;
  json?: boolean;
}

export function idOf(args: string[]): number {
  const raw = (args[0] ?? '').replace(/^#/, '');
  if (!/^\d+$/.test(raw)) throw new UserError(`give the approval's id (a number, see reflex approvals), not "${args[0] ?? ''}"`);
  return Number(raw);
}

export default async function approveCommand(opts: AnswerOpts, args: string[]): Promise<number> {
  const id = idOf(args);
  let expiresMs: number | undefined;
  if (opts.expires !== undefined) {
    try {
      expiresMs = parseDuration(opts.expires);
    } catch (err) {
      throw new UserError(`--expires: ${(err as Error).message}`);
    }
    if (expiresMs <= 0) throw new UserError('--expires must be longer than 0s');
  }
  const { project } = await loadOrExit(opts);
  const store = await openStoreOrExit(project);
  try {
    const now = Date.now();
    const a = await approve(store, id, { by: who(opts.by), reason: opts.reason ?? '', now, expiresMs });
    if (opts.json) process.stdout.write(`${JSON.stringify({ approved: a })}\n`);
    else
      process.stdout.write(
        `approved #${a.id}: ${a.rule} may run ${whatOf(a)} on ${a.target} once, in the next run, if the rule still holds on fresh facts with the same action; valid for ${formatDuration(a.expiresAt! - now)}\n`,
      );
    return 0;
  } finally {
    await store.close();
  }
}
