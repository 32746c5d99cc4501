// `reflex run`: one pass of the pipeline; a summary for people or a stable JSON document for machines.
import { EXIT, UserError } from '../../errors.js';
import { runOnce } from '../../pipeline/run.js';
import { makeLogger } from '../../util/log.js';
import { makeRedactor } from '../../redact.js';
import { loadOrExit, openStoreOrExit, processSignal } from '../project.js';
import { decisionLine, OUTCOME_ORDER } from '../../explain/text.js';

export default async function run(opts: {
  config?: string;
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
  shard?: string[];
  derived?: boolean;
}): Promise<number> {
  const t0 = performance.now();
  const shards = parseShards(opts.shard);
  const { project, ruleSet, warnings } = await loadOrExit(opts);
  const redact = makeRedactor(project.secrets);
  const log = makeLogger({ redact, level: opts.quiet ? 'warn' : 'info', write: (l) => process.stderr.write(`${l}\n`) });
  for (const w of warnings) log.warn(`${w.file}:${w.line}:${w.col}: ${w.message}`);
  const store = await openStoreOrExit(project);
  try {
    const res = await runOnce({ project, ruleSet, store, dryRun: !!opts.dryRun, log, signal: processSignal(), shards });
    const s = res.summary;
    const ms = Math.round(performance.now() - t0);
    if (opts.json) {
      const doc = {
        ...s,
        shards: res.ctx.shards?.describe() ?? null,
        durationMs: ms,
        decisions: res.decisions
          .filter((d) => d.outcome !== 'not_matched' && (opts.derived !== false || d.outcome !== 'derived'))
          .map((d) => ({
            rule: d.rule.name,
            target: d.target.id,
            outcome: d.outcome,
            severity: d.rule.severity,
            reason: d.trace.filter((v) => v.stops).pop()?.reason ?? null,
            detail: d.trace.filter((v) => v.stops).pop()?.detail ?? null,
            actions: d.actions,
            escalation: d.escalation ?? null,
          })),
      };
      process.stdout.write(`${redact(JSON.stringify(doc, null, 2))}\n`);
    } else {
      const out: string[] = [];
      const mode = opts.dryRun ? 'dry-run' : 'enforce';
      if (!opts.quiet) {
        out.push(`run #${res.runId} (${mode}) at ${s.startedAt}: ${s.targets} targets, ${ruleSet.rules.length} rules, ${ms} ms`);
        const sc = res.ctx.shards;
        if (sc) out.push(`  shards ${sc.shards.join(', ')} of ${sc.layout.count}: acted for ${sc.targetsIn(res.ctx.targets).size} of the ${s.targets} targets`);
        for (const r of s.sources) {
          const status = r.status === 'ok' ? 'ok' : r.status === 'cached' ? `cached (from ${new Date(r.cachedAt ?? 0).toISOString()})` : r.status.toUpperCase();
          out.push(`  source ${r.name} (${r.kind}): ${status}, ${r.targets} targets${r.error ? `: ${r.error}` : ''}`);
        }
      }
      const notable = res.decisions.filter((d) => d.outcome !== 'not_matched' && d.outcome !== 'derived');
      notable.sort(
        (a, b) => OUTCOME_ORDER.indexOf(a.outcome) - OUTCOME_ORDER.indexOf(b.outcome) || a.rule.index - b.rule.index || a.target.id.localeCompare(b.target.id),
      );
      const shown = opts.quiet ? notable.filter((d) => d.outcome === 'failed' || d.outcome === 'interrupted') : notable;
      for (const d of shown.slice(0, 100)) out.push(`  ${decisionLine(d)}`);
      if (shown.length > 100) out.push(`  ... and ${shown.length - 100} more (reflex history --rule R, or --json)`);
      const counts = Object.entries(s.outcomes)
        .filter(([, n]) => n > 0)
        .sort((a, b) => OUTCOME_ORDER.indexOf(a[0] as never) - OUTCOME_ORDER.indexOf(b[0] as never))
        .map(([k, n]) => `${n} ${k.replace('_', ' ')}`);
      if (!opts.quiet) out.push(`decisions: ${counts.join(', ') || 'none'}`);
      for (const p of s.problems) out.push(`problem: ${p.detail}`);
      if (!opts.quiet && notable.length) out.push(`explain a target: reflex why ${notable[0]!.target.id}`);
      if (out.length) process.stdout.write(`${redact(out.join('\n'))}\n`);
    }
    return s.problems.length || res.decisions.some((d) => d.outcome === 'failed') ? EXIT.PROBLEMS : EXIT.OK;
  } finally {
    await store.close();
  }
}

/** `--shard 3 --shard 5` or `--shard 3,5`: shard numbers (checked against shards.count when the run claims them). */
function parseShards(values: string[] | undefined): number[] | undefined {
  if (!values || values.length === 0) return undefined;
  const out: number[] = [];
  for (const part of values.flatMap((v) => v.split(','))) {
    const t = part.trim();
    if (!/^\d+$/.test(t)) throw new UserError(`--shard ${part}: expected a shard number (0, 1, ...) or a comma-separated list`);
    out.push(Number(t));
  }
  return out;
}
