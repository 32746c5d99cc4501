// `reflex schema`: print the JSON Schema of a file kind, for editors (yaml-language-server).
import { jsonSchema, type SchemaKind } from '../../check/schema-json.js';

export default async function schema(opts: { kind?: SchemaKind }): Promise<number> {
  process.stdout.write(`${JSON.stringify(await jsonSchema(opts.kind ?? 'rules'), null, 2)}\n`);
  return 0;
}
