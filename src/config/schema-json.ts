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
  const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  return { ...js, title: TITLES[kind] };
}
