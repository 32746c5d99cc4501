// Why a rule was never evaluated for a target: its kind is another, or its target selector leaves the target out.
import type { Target } from '../model.js';
import type { LabelSelectorSpec } from '../rules/selector.js';
import type { CompiledRule } from '../rules/ruleset.js';
import { exclusionSentence } from './verdict.js';

export interface Exclusion {
  rule: string;
  /** `kind`: the rule is for another kind of target; `selector`: its label selector leaves this one out. */
  by: 'kind' | 'selector';
  ruleKind: string;
  /** The selector's clauses that the target fails, each with the label value that failed it. */
  misses: { label: string; want: string | string[]; value: string | null; clause: string; seen: string }[];
  verdict: string;
}

/** The clauses of a selector a target's labels fail: `tier: "!gold" (tier = gold)`, `env: prod (no env label)`. */
export function selectorMisses(spec: LabelSelectorSpec | undefined, labels: Record<string, string>): Exclusion['misses'] {
  const out: Exclusion['misses'] = [];
  for (const [label, want] of Object.entries(spec ?? {})) {
    const value = labels[label];
    let ok: boolean;
    if (Array.isArray(want)) ok = value !== undefined && want.includes(value);
    else if (want.startsWith('!')) ok = value !== want.slice(1);
    else ok = value === want;
    if (ok) continue;
    const shown = Array.isArray(want) ? `[${want.join(', ')}]` : want.startsWith('!') ? JSON.stringify(want) : want;
    const seen = value === undefined ? `no ${label} label` : `${label} = ${value}`;
    out.push({ label, want, value: value ?? null, clause: `${label}: ${shown}`, seen });
  }
  return out;
}

/**
 * Why `rule` does not apply to `target`, or null when it does. `spec` is the rule's `target.labels` as written
 * (the compiled rule keeps only a predicate).
 */
export function exclusionOf(rule: CompiledRule, spec: LabelSelectorSpec | undefined, target: Target): Exclusion | null {
  if (rule.kind !== target.kind) {
    return {
      rule: rule.name,
      by: 'kind',
      ruleKind: rule.kind,
      misses: [],
      verdict: exclusionSentence({ target: target.id, kind: target.kind, ruleKind: rule.kind, misses: [] }),
    };
  }
  if (!rule.selector || rule.selector(target.labels)) return null;
  const misses = selectorMisses(spec, target.labels);
  return {
    rule: rule.name,
    by: 'selector',
    ruleKind: rule.kind,
    misses,
    verdict: exclusionSentence({ target: target.id, kind: target.kind, ruleKind: rule.kind, misses }),
  };
}
