// `reflex disable` / `reflex enable`: the global off switch and scoped disables, each with who, why and an expiry, audited.
import { EXIT, UserError } from '../../errors.js';
import { parseSelectorText, selectorText } from '../../rules/selector.js';
import type { DisableScope } from '../../store/types.js';
import { formatDuration, parseUntil } from '../../util/duration.js';
import { loadOrExit, openStoreOrExit, who } from '../project.js';

export interface SwitchOpts {
  config?: string;
  all?: boolean;
  rule?: string;
  action?: string;
  target?: string;
  selector?: string;
  id?: string;
  reason?: string;
  until?: string;
  by?: string;
  json?: boolean;
}

/** The one scope a disable/enable names; exactly one is required (an empty scope would mean everything). */
export function scopeOf(opts: SwitchOpts): { scope: 'all' | DisableScope; value: string; selector: Record<string, string> | null } | null {
  const given = (['all', 'rule', 'action', 'target', 'selector'] as const).filter((k) => opts[k] !== undefined && opts[k] !== false);
  if (given.length > 1) throw new UserError(`name one scope, not ${given.map((g) => `--${g}`).join(' and ')}`);
  if (given.length === 0) return null;
  const k = given[0]!;
  if (k === 'all') return { scope: 'all', value: '*', selector: null };
  const v = String(opts[k]).trim();
  if (!v) throw new UserError(`--${k} needs a value; an empty ${k} would match everything`);
  if (k === 'selector') {
    let sel: Record<string, string>;
    try {
      sel = parseSelectorText(v);
    } catch (err) {
      throw new UserError((err as Error).message);
    }
    return { scope: 'selector', value: selectorText(sel), selector: sel };
  }
  return { scope: k, value: v, selector: null };
}

export default async function disable(opts: SwitchOpts): Promise<number> {
  const s = scopeOf(opts);
  if (!s) throw new UserError('say what to disable: --all, --rule R, --action A, --target T or --selector label=value');
  const reason = (opts.reason ?? '').trim();
  if (!reason) throw new UserError('--reason must say why (it is kept in the audit log)');
  const { project, ruleSet } = loadOrExit(opts);
  const now = Date.now();
  let until: number | null = null;
  if (opts.until) {
    try {
      until = parseUntil(opts.until, now);
    } catch (err) {
      throw new UserError(`--until: ${(err as Error).message}`);
    }
    if (until <= now) throw new UserError(`--until ${opts.until} is in the past`);
  }
  // A disable that names nothing real protects nothing: refuse it rather than silently doing nothing.
  if (s.scope === 'rule' && !ruleSet.rules.some((r) => r.name === s.value)) throw new UserError(`no rule "${s.value}" (rules: ${ruleSet.rules.map((r) => r.name).join(', ')})`);
  if (s.scope === 'action' && !project.config.actions[s.value]) throw new UserError(`no action "${s.value}" (actions: ${Object.keys(project.config.actions).join(', ') || 'none'})`);
  const by = who(opts.by);
  const store = await openStoreOrExit(project);
  try {
    if (s.scope === 'all') {
      await store.setSwitch({ off: true, by, reason, at: now, until });
      await store.appendAudit({ at: now, by, action: 'disable:all', detail: { reason, until } });
    } else {
      const id = await store.addDisable({ scope: s.scope, value: s.value, selector: s.selector, by, reason, createdAt: now, until });
      await store.appendAudit({ at: now, by, action: `disable:${s.scope}`, detail: { id, value: s.value, reason, until } });
    }
    const what = s.scope === 'all' ? 'all automation' : s.scope === 'selector' ? `targets with ${s.value}` : `${s.scope} "${s.value}"`;
    const msg = `disabled ${what} (by ${by}: "${reason}"${until ? `, for ${formatDuration(until - now)}, until ${new Date(until).toISOString()}` : ', until enabled again'})`;
    if (opts.json) process.stdout.write(JSON.stringify({ disabled: s, by, reason, until }) + '\n');
    else process.stdout.write(msg + '\n');
    return EXIT.OK;
  } finally {
    await store.close();
  }
}
