// Actions: plan (pure, may refuse with PlanError) and run; `reflex check` reuses the static checks.
import type { ActionConfig } from '../config/schema.js';
import { makeRedactor } from '../redact.js';
import { parseDuration } from '../util/duration.js';
import { checkExec, execTemplates, planExec } from './exec.js';
import { checkHttp, httpTemplates, planHttp, type HttpPlanOptions } from './http.js';
import { paramPattern, renderParams } from './params.js';
import { parseTemplate, templateRefs } from './template.js';
import { PlanError, type ActionPlan, type PlanContext, type TemplateScope } from './types.js';

export { PlanError } from './types.js';
export type { ActionPlan, Channel, EscalationMessage, ExecuteContext, PlanContext, TemplateScope } from './types.js';
export { templateRefs, renderTemplate, parseTemplate } from './template.js';
export { renderParams } from './params.js';
export { runBounded } from './concurrency.js';
export { createChannel } from './channels/index.js';

/** What an action kind provides: planning for one target, and what `reflex check` can find without one. */
interface ActionKind<C extends ActionConfig> {
  plan(name: string, config: C, scope: TemplateScope, timeoutMs: number, secrets: readonly string[], options: HttpPlanOptions): ActionPlan;
  /** The kind's own configuration problems (params and templates in general are checked for every kind). */
  check(name: string, config: C): string[];
  /** Every template of the configuration, with where it is. */
  templates(config: C): [string, string][];
}

/** The action kinds, one module each (as the source kinds are): adding a kind is adding an entry here. */
const KINDS: { [K in ActionConfig['kind']]: ActionKind<Extract<ActionConfig, { kind: K }>> } = {
  exec: { plan: (n, c, s, t, sec) => planExec(n, c, s, t, sec), check: checkExec, templates: execTemplates },
  http: { plan: planHttp, check: checkHttp, templates: httpTemplates },
};

const kindOf = (config: ActionConfig) => KINDS[config.kind] as ActionKind<ActionConfig>;

/** Milliseconds of a duration (`30s`, `1h30m`); a PlanError for anything else. */
export function durationMs(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new PlanError((err as Error).message);
  }
}

/**
 * Render and check an action for one target: everything that can be refused
 * is refused here, before anything runs. Throws PlanError (its message is
 * redacted). Pure: no I/O. The step's own `timeout:` is applied by passing a
 * config with `timeout` overridden.
 */
export function planAction(name: string, config: ActionConfig, ctx: PlanContext, options: HttpPlanOptions = {}): ActionPlan {
  const redact = makeRedactor(ctx.secrets);
  try {
    const params = renderParams(name, config, ctx.with, ctx.scope);
    const scope = { ...ctx.scope, params };
    const timeoutMs = config.timeout ? durationMs(config.timeout) : ctx.defaultTimeoutMs;
    return kindOf(config).plan(name, config, scope, timeoutMs, ctx.secrets, options);
  } catch (err) {
    if (err instanceof PlanError) throw new PlanError(redact(err.message));
    throw err;
  }
}

/**
 * Problems in an action's configuration that need no target, for `reflex
 * check`: malformed placeholders, a placeholder in the program or the host,
 * params used but not declared, invalid patterns, a GET with a body.
 */
export function checkAction(name: string, config: ActionConfig): string[] {
  const problems: string[] = [];
  const declared = new Set(Object.keys(config.params ?? {}));
  const check = (where: string, text: string) => {
    try {
      for (const ref of templateRefs(text)) {
        if (ref.startsWith('params.') && !declared.has(ref.slice(7))) {
          problems.push(`action ${name}, ${where}: {{ ${ref} }} is not a declared param (declare it under params:)`);
        }
      }
    } catch (err) {
      problems.push(`action ${name}, ${where}: ${(err as Error).message}`);
    }
  };
  for (const [p, decl] of Object.entries(config.params ?? {})) {
    if (decl.pattern === undefined) continue;
    try {
      paramPattern(decl.pattern);
    } catch (err) {
      problems.push(`action ${name}, param ${p}: ${(err as Error).message}`);
    }
  }
  for (const [where, text] of kindOf(config).templates(config)) check(where, text);
  problems.push(...kindOf(config).check(name, config));
  return problems;
}

/**
 * Problems in a step's `with:` for `reflex check`: params the action does not
 * declare, params the action uses that the step does not give, malformed
 * templates, and templates that refer to params.
 */
export function checkStepParams(actionName: string, config: ActionConfig, withTemplates: Readonly<Record<string, string>> | undefined): string[] {
  const problems: string[] = [];
  const declared = config.params ?? {};
  const given = withTemplates ?? {};
  for (const [k, t] of Object.entries(given)) {
    if (!Object.hasOwn(declared, k)) problems.push(`with.${k}: action ${actionName} has no param "${k}"`);
    try {
      for (const part of parseTemplate(t)) {
        if ('ref' in part && part.ref.startsWith('params.')) problems.push(`with.${k}: ${part.source} may not refer to another param`);
      }
    } catch (err) {
      problems.push(`with.${k}: ${(err as Error).message}`);
    }
  }
  const used = new Set<string>();
  for (const [, text] of kindOf(config).templates(config)) {
    try {
      for (const ref of templateRefs(text)) if (ref.startsWith('params.')) used.add(ref.slice('params.'.length));
    } catch {
      /* reported by checkAction */
    }
  }
  for (const p of used) {
    if (!Object.hasOwn(given, p)) problems.push(`action ${actionName} uses {{ params.${p} }} but the step gives no with.${p}`);
  }
  return problems;
}
