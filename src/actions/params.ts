// A step's `with:` params: rendered from the target, then checked against the action's declared patterns.
import type { ActionConfig } from '../config/schema.js';
import { PlanError, type TemplateScope } from './types.js';
import { quote } from './output.js';
import { parseTemplate, renderTemplate } from './template.js';
import { compileRegex, isRegex } from '../rules/cel/re2.js';

const compiled = new Map<string, { test(value: string): boolean }>();

/** The longest parameter pattern accepted: far above any real one, far below what makes a regular expression engine refuse it. */
export const MAX_PATTERN_LENGTH = 1000;

/**
 * A param pattern as an RE2 regular expression that must match the whole value: `^(?:pattern)$` without flags,
 * so `$` means the end of the value (never of a line) and a newline cannot slip past it.
 */

export function paramPattern(pattern: string): { test(value: string): boolean } {
  let re = compiled.get(pattern);
  if (!re) {
    if (pattern.length > MAX_PATTERN_LENGTH) {
      throw new PlanError(
        `pattern is ${pattern.length} characters long; at most ${MAX_PATTERN_LENGTH} are allowed (a parameter's pattern names the values it accepts)`,
      );
    }
    const shown = pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern;
    // RE2, as CEL's matches() (docs/rules.md): a pattern copied from Go, Prometheus or Kubernetes means what it said
    // there. It must stand on its own (so `a)|(b` cannot escape the anchors), then it must match the whole value.
    const alone = compileRegex(pattern);
    if (!isRegex(alone)) throw new PlanError(`invalid pattern /${shown}/: ${alone.message}`);
    const whole = compileRegex(`^(?:${pattern})$`);
    if (!isRegex(whole)) throw new PlanError(`invalid pattern /${shown}/: ${whole.message}`);
    re = whole;
    compiled.set(pattern, re);
  }
  return re;
}

/** Params whose pattern is declared: their values were checked, so they may begin with "-" in an argument. */
export function patternedParams(config: ActionConfig): Set<string> {
  const out = new Set<string>();
  for (const [k, p] of Object.entries(config.params ?? {})) if (p.pattern !== undefined) out.add(k);
  return out;
}

/**
 * Render a step's `with:` templates against the target (they may not refer to
 * other params), merge them over params already given, and check every value
 * against the action's declaration: an undeclared param or a value outside its
 * pattern is refused.
 */
export function renderParams(
  actionName: string,
  config: ActionConfig,
  withTemplates: Readonly<Record<string, string>> | undefined,
  scope: TemplateScope,
): Record<string, string> {
  const declared = config.params ?? {};
  const out: Record<string, string> = { ...scope.params };
  for (const [key, template] of Object.entries(withTemplates ?? {})) {
    for (const part of parseTemplate(template)) {
      if ('ref' in part && part.ref.startsWith('params.')) {
        throw new PlanError(`param "${key}" of action ${actionName}: ${part.source} may not refer to another param`);
      }
    }
    out[key] = renderTemplate(template, scope);
  }
  for (const [key, value] of Object.entries(out)) {
    const decl = Object.hasOwn(declared, key) ? declared[key] : undefined;
    if (!decl) {
      const known = Object.keys(declared);
      throw new PlanError(`action ${actionName} has no param "${key}"${known.length ? ` (it declares ${known.join(', ')})` : ' (it declares no params)'}`);
    }
    if (value === '') throw new PlanError(`param "${key}" of action ${actionName} is empty: an empty value is never placed`);
    if (decl.pattern !== undefined && !paramPattern(decl.pattern).test(value)) {
      throw new PlanError(`param "${key}" of action ${actionName} = ${quote(value)} does not match /${decl.pattern}/ (the whole value must match)`);
    }
  }
  return out;
}
