// The JSON Schema of each file kind, generated from the one zod schema (for editors' completion and validation).
import { z } from 'zod';
import { Config, RuleFile } from './schema.js';

export type SchemaKind = 'config' | 'rules' | 'tests';

const TITLES: Record<SchemaKind, string> = {
  config: 'Reflex configuration (reflex.yaml)',
  rules: 'Reflex rule file',
  tests: 'Reflex scenario test file',
};

export async function jsonSchema(kind: SchemaKind): Promise<Record<string, unknown>> {
  let schema: z.ZodType;
  if (kind === 'config') schema = Config;
  else if (kind === 'rules') schema = RuleFile;
  else schema = (await import('../testing/schema.js')).ScenarioFile;
  const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12', override: humanPatternMessages }) as Record<
    string,
    unknown
  >;
  const { $schema, ...rest } = js;
  return { $schema, $id: `${SCHEMA_BASE}/${kind}.schema.json`, title: TITLES[kind], ...rest };
}

/** Where the schemas are published: `$id`, so editors and other schemas can refer to them by a stable address. */
export const SCHEMA_BASE = 'https://raw.githubusercontent.com/reflex-remediation/reflex/main/schema';

/**
 * A value that does not match a pattern (a duration, a name) is explained in words: the regex check's own message
 * becomes `patternErrorMessage`, which editors (VS Code's YAML and JSON support) show instead of the raw regex.
 */
function humanPatternMessages(ctx: { zodSchema: unknown; jsonSchema: Record<string, unknown> }): void {
  const def = (ctx.zodSchema as { _zod?: { def?: { checks?: { _zod: { def: { format?: string; error?: unknown } } }[] } } })._zod?.def;
  for (const c of def?.checks ?? []) {
    const d = c._zod.def;
    if (d.format !== 'regex' || typeof d.error !== 'function') continue;
    const m = (d.error as (issue: object) => unknown)({});
    const text = typeof m === 'string' ? m : (m as { message?: string } | undefined)?.message;
    if (text) ctx.jsonSchema.patternErrorMessage = text;
  }
}
