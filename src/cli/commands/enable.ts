// `reflex enable`: lift the off switch or disables; every change goes to the audit log.
import { EXIT, UserError } from '../../errors.js';
import { clearIneffective } from '../../verify/clear.js';
import { loadOrExit, openStoreOrExit, who } from '../project.js';
import { storeLocation } from '../switch-store.js';
import { scopeOf, type SwitchOpts } from './disable.js';

/**
 * `reflex enable --rule R --target T`: let a rule act again on a target where an earlier action did not help
 * (verify:, docs/verification.md). Only that pair: no disable is lifted.
 */
async function resetVerification(opts: SwitchOpts): Promise<number> {
  const by = who(opts.by);
  const now = Date.now();
  const store = await openStoreOrExit((await loadOrExit(opts)).project);
  try {
    const cleared = await clearIneffective(store, { rule: opts.rule, target: opts.target }, { name: by, reason: opts.reason ?? null, at: now });
    if (opts.json) process.stdout.write(`${JSON.stringify({ cleared })}\n`);
    else if (cleared.length === 0)
      process.stdout.write(`rule "${opts.rule}" is not stopped on ${opts.target} by an ineffective action; nothing changed (see reflex status)\n`);
    else
      process.stdout.write(`rule "${opts.rule}" may act on ${opts.target} again (execution #${cleared.map((v) => v.executionId).join(', #')} did not help)\n`);
    return cleared.length ? EXIT.OK : EXIT.PROBLEMS;
  } finally {
    await store.close();
  }
}

export default async function enable(opts: SwitchOpts): Promise<number> {
  if (opts.rule !== undefined && opts.target !== undefined && !opts.all && opts.action === undefined && opts.selector === undefined && opts.id === undefined)
    return resetVerification(opts);
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
    // Enabling a rule or a target also lets it act again where an earlier action did not help (verify:).
    const cleared =
      s?.scope === 'rule' || s?.scope === 'target'
        ? await clearIneffective(store, s.scope === 'rule' ? { rule: s.value } : { target: s.value }, { name: by, reason: opts.reason ?? null, at: now })
        : [];
    if (opts.json) process.stdout.write(`${JSON.stringify(cleared.length ? { lifted, cleared } : { lifted })}\n`);
    else if (lifted.length === 0 && cleared.length === 0) process.stdout.write('no active disable matches; nothing changed (see reflex status)\n');
    else {
      for (const d of lifted)
        process.stdout.write(
          `enabled ${d.scope === 'selector' ? `targets with ${d.value}` : `${d.scope} "${d.value}"`} (disable #${d.id} by ${d.by}: "${d.reason}")\n`,
        );
      for (const v of cleared)
        process.stdout.write(`rule "${v.rule}" may act on ${v.target} again (execution #${v.executionId} did not help: ${v.detail ?? 'ineffective'})\n`);
    }
    return lifted.length || cleared.length ? EXIT.OK : EXIT.PROBLEMS;
  } finally {
    await store.close();
  }
}
