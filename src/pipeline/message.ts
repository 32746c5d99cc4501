// What every message to a person carries, whoever asked for it: the run, the rule's description, the facts behind
// the decision (each condition with its inputs and where they came from, as `reflex why` prints them), and the
// command that shows more. The notify stage adds these to each trigger just before it is sent.
import type { EscalationMessage } from '../actions/types.js';
import { liveVerdict } from '../explain/text.js';
import type { FactValue } from '../model.js';
import type { Decision } from '../rules/evaluate.js';
import type { RunContext } from './types.js';

/** How many decisions' facts a message about several carries (the command lists them all). */
const FACTS_OF = 3;
/** A value in a message line: JSON, cut short. */
function valueText(v: FactValue | undefined): string {
  if (v === undefined) return 'unknown';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Where a fact came from: the source that provided it, or the derive rule that set it in this run. */
function originOf(ctx: Pick<RunContext, 'factSources' | 'ruleSet'>, input: string): string {
  const fact = input.startsWith('facts.') ? input.slice(6) : null;
  if (!fact) return input.startsWith('agg.') ? 'aggregate' : '';
  const rule = ctx.ruleSet.derived.get(fact);
  if (rule) return `derived by rule ${rule}`;
  const src = ctx.factSources[fact];
  return src ? `from source "${src}"` : '';
}

/**
 * One line per condition of a decision: `unhealthy holds: !facts.healthy (facts.healthy = false from source "inv")`.
 * Unknown conditions say why.
 */
export function conditionLines(ctx: Pick<RunContext, 'factSources' | 'ruleSet'>, d: Decision): string[] {
  return d.conditions.map((c) => {
    const state = c.result === true ? 'holds' : c.result === false ? 'fails' : 'unknown';
    const inputs = Object.entries(c.inputs ?? {}).map(([k, v]) => {
      const o = originOf(ctx, k);
      return `${k} = ${valueText(v)}${o ? ` ${o}` : ''}`;
    });
    const why = c.result === 'unknown' && c.unknown ? `; why unknown: ${c.unknown}` : '';
    return `${c.name} ${state}: ${c.expr}${inputs.length ? ` (${inputs.join(', ')})` : ''}${why}`;
  });
}

/**
 * The message with what every escalation carries, for the decisions it stands for (none: a message about the
 * run itself, such as an interrupted execution). Fields a message set itself are kept.
 */
export function withContext(
  ctx: Pick<RunContext, 'factSources' | 'ruleSet' | 'runId' | 'now' | 'dryRun'>,
  msg: EscalationMessage,
  decisions: readonly Decision[],
): EscalationMessage {
  if (msg.event !== 'trigger') return msg;
  const details: Record<string, unknown> = { ...msg.details };
  details.run ??= ctx.runId;
  const rules = [...new Set(decisions.map((d) => d.rule))];
  const description = rules.length === 1 ? rules[0]!.description : undefined;
  if (description && details.description === undefined) details.description = description;
  if (decisions.length === 1) {
    const d = decisions[0]!;
    // The one-line verdict `reflex why` starts with, for this decision of this run.
    // Without the run's time and id: the message carries them (details.run, at), and the same words next run are stored once.
    details.verdict ??= liveVerdict(d, { id: ctx.runId, now: ctx.now, dryRun: ctx.dryRun }, undefined, true);
    details.facts ??= conditionLines(ctx, d);
    details.more ??= `reflex why ${d.target.id} --run ${ctx.runId}`;
  } else if (decisions.length > 1) {
    // The facts of the first few, each under its target; the command lists every one.
    details.facts ??= decisions.slice(0, FACTS_OF).flatMap((d) => conditionLines(ctx, d).map((l) => `${d.target.id}: ${l}`));
    details.more ??= rules.length === 1 ? `reflex why --rule ${rules[0]!.name} --run ${ctx.runId}` : 'reflex status';
  } else {
    details.more ??= 'reflex status';
  }
  return { ...msg, details };
}
