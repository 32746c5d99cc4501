// `reflex init [DIR]`: write a small working project (config, commented rules, an inventory, editor schemas).
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { jsonSchema } from '../../check/schema-json.js';
import { starterFiles } from '../../config/starter.js';
import { EXIT, UserError } from '../../errors.js';

export default async function init(opts: { force?: boolean }, args: string[]): Promise<number> {
  const dir = resolve(args[0] ?? '.');
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UserError(`${args[0]} exists and is not a folder`, EXIT.CONFIG);
  const files: Record<string, string> = {
    ...starterFiles(),
    'schema/config.schema.json': `${JSON.stringify(await jsonSchema('config'), null, 2)}\n`,
    'schema/rules.schema.json': `${JSON.stringify(await jsonSchema('rules'), null, 2)}\n`,
    'schema/tests.schema.json': `${JSON.stringify(await jsonSchema('tests'), null, 2)}\n`,
  };
  const shown = args[0] ?? '.';
  if (!opts.force) {
    const taken = Object.keys(files).filter((f) => f !== '.gitignore' && existsSync(join(dir, f)));
    if (taken.length) {
      throw new UserError(
        `${taken.map((f) => join(shown, f)).join(', ')} already exist${taken.length === 1 ? 's' : ''}: nothing was written (use --force to overwrite)`,
        EXIT.CONFIG,
      );
    }
  }
  const written: string[] = [];
  for (const [rel, text] of Object.entries(files)) {
    const path = join(dir, rel);
    // An existing .gitignore is the user's: never overwritten, even with --force.
    if (rel === '.gitignore' && existsSync(path)) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    written.push(join(shown, rel));
  }
  const cd = shown === '.' ? '' : `  cd ${shown}\n`;
  process.stdout.write(
    `${written.map((f) => `wrote ${f}`).join('\n')}\n\n` +
      `Next:\n${cd}  reflex check            # find mistakes, with file:line:col\n` +
      `  reflex run --dry-run    # see what the rules would do (new rules never act until you set mode: enforce)\n` +
      `  reflex test             # run the scenario tests in rules/starter_test.yaml\n` +
      `  reflex why web-2        # and why\n` +
      `The rule language is described in docs/rules.md.\n`,
  );
  return EXIT.OK;
}
