// `reflex enable`: lift the off switch or disables; every change goes to the audit log.
import { EXIT, UserError } from '../../errors.js';
import { loadOrExit, openStoreOrExit, who } from '../project.js';
import { storeLocation } from '../switch-store.js';
import { scopeOf, type SwitchOpts } from './disable.js';

export default async function enable(opts: SwitchOpts): Promise<number> {
  const s = scopeOf(opts);
  if (!s && opts.id === undefined) throw new UserError('say what to enable: --all, --rule R, --action A, --target T, --selector label=value or --id N');
  const by = who(opts.by);
  const now = Date.now();
  // Switching automation back on, like off, needs only the store (cli/switch-store.ts).
  const at = s?.scope === 'all' ? storeLocation(opts.config) : null;
  const store = await openStoreOrExit(at ? { config: { store: at.store }, dir: at.dir } : (await loadOrExit(opts)).project);
  try {
    if (s?.scope === 'all') {
      const cur = await store.getSwitch();
      await store.setSwitch({ off: false, by, reason: opts.reason ?? 'enabled', at: now, until: null });
      await store.appendAudit({ at: now, by, action: 'enable:all', detail: { reason: opts.reason ?? null, wasOff: cur.off } });
      process.stdout.write(
        opts.json
          ? `${JSON.stringify({ enabled: 'all', wasOff: cur.off })}\n`
          : cur.off
            ? 'automation is on again\n'
            : 'automation was not switched off; nothing changed\n',
      );
      return EXIT.OK;
    }
    const match = opts.id !== undefined ? { id: Number(opts.id) } : { scope: s!.scope as Exclude<NonNullable<typeof s>['scope'], 'all'>, value: s!.value };
    if ('id' in match && !Number.isInteger(match.id)) throw new UserError(`--id must be a number, not "${opts.id}"`);
    const lifted = await store.removeDisables(match, by, now);
    for (const d of lifted)
      await store.appendAudit({ at: now, by, action: `enable:${d.scope}`, detail: { id: d.id, value: d.value, reason: opts.reason ?? null } });
    if (opts.json) process.stdout.write(`${JSON.stringify({ lifted })}\n`);
    else if (lifted.length === 0) process.stdout.write('no active disable matches; nothing changed (see reflex status)\n');
    else
      for (const d of lifted)
        process.stdout.write(
          `enabled ${d.scope === 'selector' ? `targets with ${d.value}` : `${d.scope} "${d.value}"`} (disable #${d.id} by ${d.by}: "${d.reason}")\n`,
        );
    return lifted.length ? EXIT.OK : EXIT.PROBLEMS;
  } finally {
    await store.close();
  }
}
