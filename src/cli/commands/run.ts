// `reflex run`: one pass of the pipeline; a summary for people or a stable JSON document for machines.
import { EXIT, UserError } from '../../errors.js';
import { runExitCode } from '../../pipeline/exit.js';
import { runOnce } from '../../pipeline/run.js';
import { logFormat, makeLogger, withFields } from '../../util/log.js';
import { makeRedactor } from '../../redact.js';
import { exitIfStillBusy, loadOrExit, openStoreOrExit, processSignal } from '../project.js';
import { decisionLine, hintTarget, OUTCOME_ORDER } from '../../explain/text.js';
import { summaryHeader } from '../../pipeline/summary.js';
import { readInventoriesOnce } from '../../sources/inventory/index.js';

export default async function run(opts: {
  config?: string;
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
  shard?: string[];
  initStore?: boolean;
  derived?: boolean;
}): Promise<number> {
  const t0 = performance.now();
  const shards = parseShards(opts.shard);
  // The check below reads the inventories; the collect stage then takes what it read, if the files did not change.
  readInventoriesOnce();
  const { project, ruleSet, warnings } = await loadOrExit(opts);
  const redact = makeRedactor(project.secrets);
  const log = makeLogger({ redact });
  for (const w of warnings) log.warn(`${w.file}:${w.line}:${w.col}: ${w.message}`);
  const store = await openStoreOrExit(project, { initialize: !!opts.initStore });
  try {
    const res = await runOnce({
      project,
      ruleSet,
      store,
      dryRun: !!opts.dryRun,
      log,
      signal: processSignal(),
      shards,
      metrics: true,
      onDeadline: exitIfStillBusy,
    });
    const s = res.summary;
    const ms = Math.round(performance.now() - t0);
    if (logFormat() === 'json') logRun(withFields(log, { run: res.runId }), res, ms);
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
      if (!opts.quiet) {
        out.push(summaryHeader(s, ms));
        const sc = res.ctx.shards;
        if (sc) out.push(`  shards ${sc.shards.join(', ')} of ${sc.layout.count}: acted for ${sc.targetsIn(res.ctx.targets).size} of the ${s.targets} targets`);
        for (const r of s.sources) {
          const status = r.status === 'ok' ? 'ok' : r.status === 'cached' ? `cached (from ${new Date(r.cachedAt ?? 0).toISOString()})` : r.status.toUpperCase();
          const bad = r.malformed ? `, ${r.malformed} malformed ${r.malformed === 1 ? 'record' : 'records'} (facts unknown)` : '';
          out.push(`  source ${r.name} (${r.kind}): ${status}, ${r.targets} targets${bad}${r.error ? `: ${r.error}` : ''}`);
          for (const p of (r.problems ?? []).slice(0, 3)) out.push(`    ${p}`);
        }
      }
      const notable = res.decisions.filter((d) => d.outcome !== 'not_matched' && d.outcome !== 'derived');
      notable.sort(
        (a, b) => OUTCOME_ORDER.indexOf(a.outcome) - OUTCOME_ORDER.indexOf(b.outcome) || a.rule.index - b.rule.index || a.target.id.localeCompare(b.target.id),
      );
      const shown = opts.quiet ? notable.filter((d) => d.outcome === 'failed' || d.outcome === 'interrupted') : notable;
      for (const d of shown.slice(0, 100)) out.push(`  ${decisionLine(d, { dryRun: !!opts.dryRun })}`);
      if (shown.length > 100) out.push(`  ... and ${shown.length - 100} more (reflex history --rule R, or --json)`);
      const counts = Object.entries(s.outcomes)
        .filter(([, n]) => n > 0)
        .sort((a, b) => OUTCOME_ORDER.indexOf(a[0] as never) - OUTCOME_ORDER.indexOf(b[0] as never))
        .map(([k, n]) => `${n} ${k.replace('_', ' ')}`);
      if (!opts.quiet) out.push(`decisions: ${counts.join(', ') || 'none'}`);
      for (const p of s.problems) out.push(`problem: ${p.detail}`);
      const hint = hintTarget(notable);
      if (!opts.quiet && hint) out.push(`explain a target: reflex why ${hint}`);
      if (out.length) process.stdout.write(`${redact(out.join('\n'))}\n`);
    }
    return runExitCode(res) === 1 ? EXIT.PROBLEMS : EXIT.OK;
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

/**
 * With --log-format json, what the run did as events on stderr, one per line (stdout keeps the summary or --json):
 * each failed source, each decision worth a look, each problem, and the run's end with its counts.
 */
function logRun(log: ReturnType<typeof makeLogger>, res: Awaited<ReturnType<typeof runOnce>>, ms: number): void {
  const s = res.summary;
  for (const r of s.sources) {
    if (r.status === 'failed' || r.status === 'timeout')
      log.warn(`source ${r.name} ${r.status === 'timeout' ? 'timed out' : 'failed'}: ${r.error ?? ''}`, { stage: 'collect', source: r.name });
  }
  for (const d of res.decisions) {
    if (d.outcome === 'not_matched' || d.outcome === 'derived') continue;
    const stop = d.trace.filter((v) => v.stops).pop();
    const fields = { stage: (stop ?? d.trace.at(-1))?.stage ?? 'evaluate', rule: d.rule.name, target: d.target.id, outcome: d.outcome, reason: stop?.reason };
    const line = decisionLine(d).replace(/\s+/g, ' ').trim();
    if (d.outcome === 'failed' || d.outcome === 'interrupted') log.warn(line, fields);
    else log.info(line, fields);
  }
  for (const p of s.problems) log.warn(p.detail, { stage: p.stage, reason: p.reason });
  const counts = Object.entries(s.outcomes)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  log.info(`run #${res.runId} finished in ${ms} ms: ${s.targets} targets; ${counts.join(', ') || 'no decisions'}`, {
    duration_ms: ms,
    targets: s.targets,
    problems: s.problems.length,
  });
}
