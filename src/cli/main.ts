#!/usr/bin/env node
// The `reflex` command line: parses flags, turns signals into cancellation, maps errors to exit codes. Nothing else.
import { createRequire } from 'node:module';
import { EXIT, ExitError, UserError } from '../errors.js';
import { guardTerminalOutput } from '../util/terminal.js';

const require = createRequire(import.meta.url);
const VERSION: string = require('../../package.json').version;

// `reflex --version` is asked by scripts and health checks: answer before loading anything.
if (process.argv.length === 3 && (process.argv[2] === '--version' || process.argv[2] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
  process.exit(0);
}

type CommandModule = { default: (opts: Record<string, any>, args: string[]) => Promise<number | undefined> };

/** Each command lives in its own module, imported only when that command runs. */
const load = (name: string) => import(`./commands/${name}.js`) as Promise<CommandModule>;

async function main(argv: string[]): Promise<number> {
  // Ids, labels and reasons come from sources and people: what reaches a terminal cannot steer it (util/terminal.ts).
  if (!argv.includes('--json')) guardTerminalOutput();
  const { Command, Option, CommanderError } = await import('commander');
  let exitCode = 0;
  const program = new Command('reflex')
    .description('Explainable, guarded auto-remediation: YAML SOP rules with CEL conditions, run as a scheduled job.')
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', 'the configuration file (default: ./reflex.yaml)')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s) })
    .addHelpText(
      'after',
      `
Exit codes:
  0   success
  1   the command ran and found problems (a failed action or source, a failing test)
  2   configuration or usage error
  3   the state store cannot be opened or written
  4   another run holds the lease (this run did nothing)
  70  a bug in Reflex (please report it)

Docs: docs/rules.md (rule language), docs/concepts.md, docs/guardrails.md`,
    );

  const action = (name: string) =>
    async function (this: InstanceType<typeof Command>, ...args: unknown[]) {
      const cmd = args[args.length - 1] as InstanceType<typeof Command>;
      const opts = { ...program.opts(), ...cmd.opts() };
      const positional = args
        .slice(0, -2)
        .flat()
        .filter((x): x is string => typeof x === 'string');
      const mod = await load(name);
      const code = await mod.default(opts, positional);
      exitCode = typeof code === 'number' ? code : 0;
    };

  program
    .command('init')
    .argument('[dir]', 'where to create the project', '.')
    .description('create a small working project (config, commented rules, an inventory and a scenario test)')
    .option('--force', 'write into a folder that already has a reflex.yaml')
    .action(action('init'));

  program
    .command('check')
    .description('load the configuration and rules, compile every expression, check every reference; report all problems with file:line:col')
    .option('--json', 'print problems as JSON')
    .action(action('check'));

  program
    .command('schema')
    .description('print the JSON Schema of reflex.yaml or of rule files, for editors')
    .addOption(new Option('--kind <kind>', 'which file kind').choices(['config', 'rules', 'tests']).default('rules'))
    .action(action('schema'));

  program
    .command('run')
    .description('one run: collect facts, evaluate rules, guard, act (or with --dry-run, only say what would be done), record')
    .option('--dry-run', 'act on nothing and send nothing; print what would be executed')
    .option('--json', 'print the run as JSON')
    .option(
      '--no-derived',
      'with --json, leave derived decisions out of `decisions` (their counts stay in `outcomes`): a fact derived on every target would list the fleet',
    )
    .option('-q, --quiet', 'print only problems')
    .option(
      '--shard <n>',
      'sharded layouts: work on this shard only (repeat, or n,m), e.g. one CronJob per shard; default: any free shards',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(action('run'));

  program
    .command('why')
    .argument('<target>', 'the target id')
    .description('explain what Reflex decided about a target and why: conditions with their values and sources, and every guardrail verdict')
    .option('--rule <rule>', 'only this rule')
    .option('--run <id>', 'this run (default: the latest)')
    .option('--json', 'print the explanation as JSON')
    .action(action('why'));

  program
    .command('history')
    .description('decisions and executions across runs, newest first')
    .option('--target <id>', 'only this target')
    .option('--rule <rule>', 'only this rule')
    .option('--since <when>', 'only since a duration ago (2h) or a time (ISO)')
    .option('--runs', 'list runs instead of decisions')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--json', 'print JSON')
    .action(action('history'));

  program
    .command('replay')
    .argument('<run>', 'the run id')
    .description("evaluate a recorded run's facts against today's rules and show what would differ")
    .option('--json', 'print JSON')
    .action(action('replay'));

  program
    .command('status')
    .description('switches, disables, cooldowns in force, open escalations, interrupted executions, leases, shadow-mode results')
    .option('--json', 'print JSON')
    .action(action('status'));

  program
    .command('disable')
    .description('switch automation off: everything (--all) or one rule, action, target or label selector')
    .option('--all', 'the global off switch')
    .option('--rule <rule>', 'a rule')
    .option('--action <action>', 'an action')
    .option('--target <id>', 'a target')
    .option('--selector <labels>', 'targets with these labels, e.g. customer=acme,region=eu')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--until <when>', 'expiry: a duration (2h) or a time (ISO); default: until enabled')
    .option('--by <who>', 'who (default: $REFLEX_USER, $SUDO_USER or $USER)')
    .option('--json', 'print JSON')
    .action(action('disable'));

  program
    .command('enable')
    .description('lift a disable or the global off switch')
    .option('--all', 'the global off switch')
    .option('--rule <rule>', 'a rule')
    .option('--action <action>', 'an action')
    .option('--target <id>', 'a target')
    .option('--selector <labels>', 'a label selector disable')
    .option('--id <n>', 'a disable by its id (see reflex status)')
    .option('--reason <text>', 'why (kept in the audit log)')
    .option('--by <who>', 'who (default: $REFLEX_USER, $SUDO_USER or $USER)')
    .option('--json', 'print JSON')
    .action(action('enable'));

  program
    .command('test')
    .argument('[files...]', "scenario files (default: the configuration's tests, or rules/*_test.yaml)")
    .description('run scenario tests for rules on a synthetic clock, never acting for real')
    .option('--run <pattern>', 'only scenarios whose name matches this regular expression')
    .option('--junit <file>', 'write JUnit XML here')
    .option('--json', 'print results as JSON')
    .action(action('test'));

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return EXIT.CONFIG;
    }
    throw err;
  }
  return exitCode;
}

// `reflex history | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`reflex: ${sig}: stopping; no new action will start\n`);
    controller.abort();
  });
}
(globalThis as { reflexSignal?: AbortSignal }).reflexSignal = controller.signal;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ExitError) {
      if (err.message) process.stderr.write(`${err.message}\n`);
      process.exitCode = err.exitCode;
    } else if (err instanceof Error && (err.name === 'StoreError' || err.name === 'LeaseLostError')) {
      process.stderr.write(`reflex: ${err.message}\n`);
      process.exitCode = EXIT.STORE;
    } else if (err instanceof UserError) {
      process.stderr.write(`reflex: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      const e = err as Error;
      process.stderr.write(`reflex: internal error: ${e?.stack ?? String(err)}\nThis is a bug in Reflex; please report it with the command you ran.\n`);
      process.exitCode = EXIT.INTERNAL;
    }
  },
);
