// `reflex disable` / `reflex enable`: the global off switch and scoped disables, each with who, why and an expiry, audited.
import type { Project } from '../../config/load.js';
import { didYouMean } from '../../config/diagnostics.js';
import { EXIT, UserError } from '../../errors.js';
import { readSnapshot } from '../../explain/recorded.js';
import type { Target } from '../../model.js';
import { parseSelectorText, selectorText } from '../../rules/selector.js';
import { collectAll } from '../../sources/collect.js';
import { createSources } from '../../sources/index.js';
import type { DisableScope, Store } from '../../store/types.js';
import { formatDuration, parseDuration, parseUntil } from '../../util/duration.js';
import { loadOrExit, openStoreOrExit, who } from '../project.js';
import { storeLocation } from '../switch-store.js';

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
  const by = who(opts.by);
  // The off switch needs nothing of the project but its store: it works fast, and with a project that does not load.
  if (s.scope === 'all') {
    const at = storeLocation(opts.config) ?? (await loadOrExit(opts)).project;
    return switchOff(await openStoreOrExit('config' in at ? at : { config: { store: at.store }, dir: at.dir }), { by, reason, now, until, json: opts.json });
  }
  const { project, ruleSet } = await loadOrExit(opts);
  // A disable that names nothing real protects nothing: refuse it rather than silently doing nothing.
  if (s.scope === 'rule' && !ruleSet.rules.some((r) => r.name === s.value))
    throw new UserError(`no rule "${s.value}" (rules: ${ruleSet.rules.map((r) => r.name).join(', ')})`);
  if (s.scope === 'action' && !project.config.actions[s.value])
    throw new UserError(`no action "${s.value}" (actions: ${Object.keys(project.config.actions).join(', ') || 'none'})`);
  const store = await openStoreOrExit(project);
  try {
    if (s.scope === 'target' || s.scope === 'selector') await refuseIfNothingMatches(store, project, s);
    const id = await store.addDisable({ scope: s.scope, value: s.value, selector: s.selector, by, reason, createdAt: now, until });
    await store.appendAudit({ at: now, by, action: `disable:${s.scope}`, detail: { id, value: s.value, reason, until } });
    const what = s.scope === 'selector' ? `targets with ${s.value}` : `${s.scope} "${s.value}"`;
    const msg = `disabled ${what} (by ${by}: "${reason}"${until ? `, for ${formatDuration(until - now)}, until ${new Date(until).toISOString()}` : ', until enabled again'})`;
    if (opts.json) process.stdout.write(`${JSON.stringify({ disabled: s, by, reason, until })}\n`);
    else process.stdout.write(`${msg}\n`);
    return EXIT.OK;
  } finally {
    await store.close();
  }
}

/** Switch all automation off, audited; runs that start from now on act on nothing (and a running one stops before its next action). */
async function switchOff(store: Store, o: { by: string; reason: string; now: number; until: number | null; json?: boolean }): Promise<number> {
  try {
    await store.setSwitch({ off: true, by: o.by, reason: o.reason, at: o.now, until: o.until });
    await store.appendAudit({ at: o.now, by: o.by, action: 'disable:all', detail: { reason: o.reason, until: o.until } });
  } finally {
    await store.close();
  }
  const msg = `disabled all automation (by ${o.by}: "${o.reason}"${o.until ? `, for ${formatDuration(o.until - o.now)}, until ${new Date(o.until).toISOString()}` : ', until enabled again'})`;
  process.stdout.write(
    o.json ? `${JSON.stringify({ disabled: { scope: 'all', value: '*', selector: null }, by: o.by, reason: o.reason, until: o.until })}\n` : `${msg}\n`,
  );
  return EXIT.OK;
}

/**
 * The targets Reflex knows: those of the latest recorded run with a facts snapshot (of each shard, when runs
 * are sharded), or, before any run, what the sources report now.
 */
export async function knownTargets(store: Store, project: Project): Promise<{ targets: Target[]; from: string }> {
  const runs = (await store.listRuns({ limit: 50 })).filter((r) => r.finishedAt !== null && r.status !== 'failed');
  const seenShards = new Set<string>();
  const byId = new Map<string, Target>();
  const used: number[] = [];
  for (const r of runs) {
    const shard = r.shard ?? '';
    if (seenShards.has(shard)) continue;
    let targets: Target[];
    try {
      targets = (await readSnapshot(store, r)).targets;
    } catch {
      continue; // pruned or recorded without a snapshot: an older run may have one
    }
    seenShards.add(shard);
    used.push(r.id);
    for (const t of targets) byId.set(t.id, t);
    if (!r.shard) break;
  }
  if (used.length) return { targets: [...byId.values()], from: `the latest run (#${used.join(', #')})` };
  const { config, dir } = project;
  const timeouts: Record<string, number> = {};
  for (const src of config.sources) if (src.timeout) timeouts[src.name] = parseDuration(src.timeout);
  const res = await collectAll(createSources(config.sources), {
    now: Date.now(),
    projectDir: dir,
    env: process.env,
    concurrency: config.defaults.max_concurrency,
    defaultTimeoutMs: parseDuration(config.defaults.source_timeout),
    timeouts,
  });
  return { targets: res.targets, from: 'the sources (no run recorded yet)' };
}

/** A disable that matches no known target protects nothing (a typo, a stale id): refuse it with what there is. */
async function refuseIfNothingMatches(
  store: Store,
  project: Project,
  s: { scope: string; value: string; selector: Record<string, string> | null },
): Promise<void> {
  const { targets, from } = await knownTargets(store, project);
  const n = `${targets.length} target${targets.length === 1 ? '' : 's'}`;
  const nothing = 'a disable that matches nothing protects nothing';
  if (s.scope === 'target') {
    if (targets.some((t) => t.id === s.value)) return;
    throw new UserError(
      `no target "${s.value}" in ${from}, ${n}${didYouMean(
        s.value,
        targets.map((t) => t.id),
      )}; ${nothing}`,
    );
  }
  const sel = s.selector!;
  if (targets.some((t) => Object.entries(sel).every(([k, v]) => t.labels[k] === v))) return;
  const hints: string[] = [];
  for (const [k, v] of Object.entries(sel)) {
    const values = [...new Set(targets.map((t) => t.labels[k]).filter((x): x is string => x !== undefined))].sort();
    if (values.length === 0) {
      const labels = [...new Set(targets.flatMap((t) => Object.keys(t.labels)))].sort();
      hints.push(`no target has a label "${k}"${didYouMean(k, labels)}${labels.length ? ` (labels: ${labels.slice(0, 20).join(', ')})` : ''}`);
    } else if (!values.includes(v)) {
      hints.push(`${k}=${v} matches no target${didYouMean(v, values)} (${k}: ${values.slice(0, 20).join(', ')}${values.length > 20 ? ', ...' : ''})`);
    }
  }
  if (hints.length === 0) hints.push('no target has all of these labels together');
  throw new UserError(`no target of ${from}, ${n}, has ${s.value}: ${hints.join('; ')}; ${nothing}`);
}
