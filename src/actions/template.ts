// `{{ path }}` placeholders: dotted paths into the target, its facts, params and rule; no logic, no filters, one pass.
import type { FactValue } from '../model.js';
import { PlanError, type TemplateScope } from './types.js';

/** A literal run of text, or a placeholder with the path it names. */
export type TemplatePart = { text: string } | { ref: string; source: string };

/** What a placeholder may start with, and for `target`/`rule` which fields exist. */
const ROOTS: Record<string, readonly string[] | null> = {
  target: ['id', 'kind'],
  rule: ['name', 'severity'],
  labels: null,
  facts: null,
  params: null,
};

/** `facts.disk.mount`, `labels.unit`, `facts.ips.0`: an identifier, then dot-separated names or indexes. */
const PATH_RE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)+$/;

/**
 * Split a template into literal text and placeholders. `\{{` writes a literal
 * `{{` (for programs that take Go templates, such as `docker inspect -f`).
 * Throws PlanError for an unclosed `{{`, anything but a dotted path inside it,
 * or a path outside target.id, target.kind, labels.x, facts.x, params.x,
 * rule.name, rule.severity.
 */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('\\{{', i)) {
      literal += '{{';
      i += 3;
      continue;
    }
    if (!text.startsWith('{{', i)) {
      literal += text[i];
      i++;
      continue;
    }
    const end = text.indexOf('}}', i + 2);
    if (end < 0) throw new PlanError(`unclosed placeholder at character ${i + 1} of "${text}" (write \\{{ for a literal "{{")`);
    const source = text.slice(i, end + 2);
    const ref = text.slice(i + 2, end).trim();
    checkPath(ref, source);
    if (literal) parts.push({ text: literal });
    literal = '';
    parts.push({ ref, source });
    i = end + 2;
  }
  if (literal) parts.push({ text: literal });
  return parts;
}

function checkPath(ref: string, source: string): void {
  if (!PATH_RE.test(ref)) {
    throw new PlanError(
      `invalid placeholder ${source}: only dotted paths such as {{ labels.unit }} or {{ facts.restarts }} are allowed (no expressions or filters)`,
    );
  }
  const [root, ...rest] = ref.split('.');
  if (!(root! in ROOTS)) {
    throw new PlanError(`unknown placeholder ${source}: paths start with target, labels, facts, params or rule`);
  }
  const fields = ROOTS[root!];
  if (fields && (rest.length !== 1 || !fields.includes(rest[0]!))) {
    throw new PlanError(`unknown placeholder ${source}: ${root} has ${fields.map((f) => `${root}.${f}`).join(' and ')}`);
  }
  if ((root === 'labels' || root === 'params') && rest.length !== 1) {
    throw new PlanError(`unknown placeholder ${source}: ${root}.NAME takes a single name`);
  }
}

/** The paths a template references, in order, without duplicates (for `reflex check`). Throws PlanError if malformed. */
export function templateRefs(text: string): string[] {
  const refs: string[] = [];
  for (const p of parseTemplate(text)) if ('ref' in p && !refs.includes(p.ref)) refs.push(p.ref);
  return refs;
}

/** True when the text holds at least one placeholder (a malformed one counts). */
export function hasPlaceholder(text: string): boolean {
  return text.replaceAll('\\{{', '').includes('{{');
}

/**
 * The value a path names, as a string. Missing, null and empty values are
 * refused rather than rendered as nothing, because an empty argument or path
 * segment changes what a command or request means. Lists and objects are
 * refused because there is no single faithful text for them. A NUL byte is
 * refused everywhere: no legitimate identifier holds one and C programs would
 * silently cut the value there. So is a lone UTF-16 surrogate, which would
 * arrive as U+FFFD instead of itself.
 */
export function resolveRef(ref: string, scope: TemplateScope, source = `{{ ${ref} }}`): string {
  const [root, ...rest] = ref.split('.');
  let value: FactValue | undefined;
  let why: string;
  switch (root) {
    case 'target':
      value = scope.target[rest[0] as 'id' | 'kind'];
      why = `the target has no ${rest[0]}`;
      break;
    case 'rule':
      value = scope.rule[rest[0] as 'name' | 'severity'];
      why = `the rule has no ${rest[0]}`;
      break;
    case 'labels':
      value = own(scope.labels, rest[0]!);
      why = `target ${scope.target.id} has no label "${rest[0]}"`;
      break;
    case 'params':
      value = own(scope.params, rest[0]!);
      why = `the rule's step gives no param "${rest[0]}"`;
      break;
    case 'facts': {
      value = own(scope.facts, rest[0]!);
      why = `fact "${rest[0]}" of target ${scope.target.id} is unknown`;
      for (let i = 1; i < rest.length && value !== undefined; i++) {
        const key = rest[i]!;
        if (Array.isArray(value)) value = /^\d+$/.test(key) ? value[Number(key)] : undefined;
        else if (value !== null && typeof value === 'object') value = own(value, key);
        else value = undefined;
        if (value === undefined) why = `fact ${rest.slice(0, i + 1).join('.')} of target ${scope.target.id} does not exist`;
      }
      break;
    }
    default:
      throw new PlanError(`unknown placeholder ${source}`);
  }
  if (value === undefined || value === null) throw new PlanError(`placeholder ${source} has no value: ${why}`);
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else throw new PlanError(`placeholder ${source} is a ${Array.isArray(value) ? 'list' : 'map'}: only strings, numbers and booleans can be placed`);
  if (text === '') throw new PlanError(`placeholder ${source} is empty (target ${scope.target.id}): an empty value is never placed`);
  if (text.includes('\0')) throw new PlanError(`placeholder ${source} contains a NUL byte (target ${scope.target.id}): refused`);
  if (LONE_SURROGATE_RE.test(text)) {
    throw new PlanError(`placeholder ${source} is not valid Unicode (a lone surrogate; target ${scope.target.id}): it cannot be passed on faithfully`);
  }
  return text;
}

/** Half of a UTF-16 pair: no UTF-8 argument, URL or JSON consumer can carry it as written. */
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function own<T>(obj: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * Render a template in one pass: each placeholder is replaced by its value,
 * passed through `encode` for its place (a URL path segment, a query value).
 * Values are never re-read as templates, so a label holding `{{ facts.x }}`
 * stays that literal text.
 */
export function renderTemplate(text: string, scope: TemplateScope, encode: (value: string, ref: string) => string = (v) => v): string {
  let out = '';
  for (const part of parseTemplate(text)) out += 'text' in part ? part.text : encode(resolveRef(part.ref, scope, part.source), part.ref);
  return out;
}
