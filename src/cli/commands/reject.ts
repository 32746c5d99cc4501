// `reflex reject ID --reason`: refuse a decision awaiting approval; its message is resolved by the next run; audited.
import { reject } from '../../approvals/decide.js';
import { whatOf } from '../../approvals/index.js';
import { loadOrExit, openStoreOrExit, who } from '../project.js';
import { type AnswerOpts, idOf } from './approve.js';

export default async function rejectCommand(opts: AnswerOpts, args: string[]): Promise<number> {
  const id = idOf(args);
  const { project } = await loadOrExit(opts);
  const store = await openStoreOrExit(project);
  try {
    const a = await reject(store, id, { by: who(opts.by), reason: opts.reason ?? '', now: Date.now() });
    if (opts.json) process.stdout.write(`${JSON.stringify({ rejected: a })}\n`);
    else
      process.stdout.write(
        `rejected #${a.id}: ${a.rule} will not run ${whatOf(a)} on ${a.target}, nor ask again, until the problem clears or the action changes; the next run resolves its message\n`,
      );
    return 0;
  } finally {
    await store.close();
  }
}
