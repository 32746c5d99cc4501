#!/usr/bin/env node
// The `reflex` command line: parses flags, turns signals into cancellation, maps errors to exit codes. Nothing else.
import { createRequire } from 'node:module';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { setEntry } from './entry.js';
import { EXIT, ExitError, UserError } from '../errors.js';
import { configureLogging, diagnostic, LOG_FORMATS, type LogFormat } from '../util/log.js';
import { guardTerminalOutput } from '../util/terminal.js';

const require = createRequire(import.meta.url);
setEntry(import.meta.url);
/** workerData's key for the console's worker (src/serve/worker.ts WORKER_KEY; not imported: this module loads nothing early). */
const WORKER_KEY = 'reflexServeWorker';
const VERSION: string = require('../../package.json').version;

// `reflex --version` is asked by scripts and health checks: answer before loading anything.
if (process.argv.length === 3 && (process.argv[2] === '--version' || process.argv[2] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
  process.exit(0);
}

type CommandModule = { default: (opts: Record<string, any>, args: string[], program: unknown) => Promise<number | undefined> };

/** Each command lives in its own module, imported only when that command runs. */
const load = (name: string) => import(`./commands/${name}.js`) as Promise<CommandModule>;

async function main(argv: string[]): Promise<number> {
  // Ids, labels and reasons come from sources and people: what reaches a terminal cannot steer it (util/terminal.ts).
  if (!argv.includes('--json')) guardTerminalOutput();
  const { Command, Option, CommanderError } = await import('commander');
  let exitCode = 0;

  /** The option groups several commands share, each written once, so its flags, help and behaviour read the same everywhere. */
  class ReflexCommand extends Command {
    override createCommand(name?: string): ReflexCommand {
      return new ReflexCommand(name);
    }

    /** `--json`: the command's result as one JSON document on stdout. */
    json(help = 'print JSON'): this {
      return this.option('--json', help);
    }

    /** What a disable (or enable) is about: everything, or one rule, action, target or label selector. */
    scope(selector: string): this {
      return this.option('--all', 'the global off switch')
        .option('--rule <rule>', 'a rule')
        .option('--action <action>', 'an action')
        .option('--target <id>', 'a target')
        .option('--selector <labels>', selector);
    }

    /** The end of every command that changes something people rely on: who did it (audited), and the result as JSON. */
    audited(): this {
      return this.option('--by <who>', 'who (default: $REFLEX_USER, $SUDO_USER or $USER)').json();
    }

    /** The approval a person answers, and why. */
    answers(): this {
      return this.argument('<id>', 'the approval id (see reflex approvals)').requiredOption(
        '--reason <text>',
        'why (kept with the approval and in the audit log)',
      );
    }
  }

  const program = new ReflexCommand('reflex')
    .description('Explainable, guarded auto-remediation: YAML SOP rules with CEL conditions, run as a scheduled job.')
    .version(VERSION, '-V, --version')
    .addOption(new Option('-c, --config <file>', 'the configuration file (default: ./reflex.yaml)').env('REFLEX_CONFIG'))
    .addOption(new Option('--log-format <format>', 'diagnostics on stderr as text, or one JSON object per line').choices(LOG_FORMATS).default('text'))
    .option('-v, --verbose', 'more diagnostics on stderr (debug)')
    .option('-q, --quiet', 'only warnings and errors on stderr; with reflex run, only problems on stdout')
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ outputError: (s) => diagnostic('error', s), writeErr: (s) => diagnostic('error', s) })
    .hook('preAction', (_program, cmd) => {
      const o = { ...program.opts(), ...cmd.opts() };
      configureLogging({ format: o.logFormat as LogFormat, level: o.verbose ? 'debug' : o.quiet ? 'warn' : 'info', command: cmd.name() });
    })
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
      const code = await mod.default(opts, positional, program);
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
    .json('print problems as JSON')
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
    .json('print the run as JSON')
    .option(
      '--no-derived',
      'with --json, leave derived decisions out of `decisions` (their counts stay in `outcomes`): a fact derived on every target would list the fleet',
    )
    .option(
      '--shard <n>',
      'sharded layouts: work on this shard only (repeat, or n,m), e.g. one CronJob per shard; default: any free shards',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--init-store', 'make a new, empty state store where the configured one is an empty file or holds no Reflex tables (refused otherwise: exit 3)')
    .action(action('run'));

  program
    .command('why')
    .argument('[target]', 'the target id (without one, --rule R explains that rule over the whole fleet)')
    .description(
      'explain what Reflex decided about a target and why: one sentence per rule, then conditions with their values and where they came from, and every guardrail verdict',
    )
    .option('--rule <rule>', 'only this rule; without a target: this rule over the fleet (counts by outcome, what stopped it)')
    .option('--run <id>', 'this run (default: the latest)')
    .option('--depth <n>', 'how many derive rules back to show where derived facts came from', '1')
    .json('print the explanation as JSON')
    .action(action('why'));

  program
    .command('history')
    .description('decisions and executions across runs, newest first')
    .option('--target <id>', 'only this target')
    .option('--rule <rule>', 'only this rule')
    .option('--since <when>', 'only since a duration ago (2h) or a time (ISO)')
    .option('--runs', 'list runs instead of decisions')
    .option('--limit <n>', 'at most this many rows', '50')
    .json()
    .action(action('history'));

  program
    .command('replay')
    .argument('<run>', 'the run id')
    .description("evaluate a recorded run's facts against today's rules and show what would differ")
    .json()
    .action(action('replay'));

  program
    .command('status')
    .description('switches, disables, cooldowns in force, open escalations, interrupted executions, leases, shadow-mode results')
    .json()
    .action(action('status'));

  program
    .command('disable')
    .description('switch automation off: everything (--all) or one rule, action, target or label selector')
    .scope('targets with these labels, e.g. customer=acme,region=eu')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--until <when>', 'expiry: a duration (2h) or a time (ISO); default: until enabled')
    .audited()
    .action(action('disable'));

  program
    .command('enable')
    .description('lift a disable or the global off switch')
    .scope('a label selector disable')
    .option('--id <n>', 'a disable by its id (see reflex status)')
    .option('--reason <text>', 'why (kept in the audit log)')
    .audited()
    .action(action('enable'));

  program
    .command('serve')
    .description('the web console and HTTP API: runs, decisions with their why, targets, the journal, switches and disables (changes need a token)')
    .option('--listen <host:port>', 'where to listen; a non-loopback address needs a token', '127.0.0.1:9797')
    .option('--token-file <file>', 'read the token from this file (default: $REFLEX_SERVE_TOKEN; none: read-only)')
    .action(action('serve'));

  program
    .command('approvals')
    .description('decisions awaiting a person: id, rule, target, action with its parameters, the facts, and the age')
    .option('--all', 'also approvals already answered, used, expired or withdrawn (newest first)')
    .option('--limit <n>', 'at most this many', '100')
    .json()
    .action(action('approvals'));

  program
    .command('approve')
    .description('let a decision awaiting approval act once, in the next run, if it still holds on fresh facts with the same action')
    .answers()
    .option('--expires <duration>', "how long the approval lasts unused (default: the rule's approval.expires, 30m)")
    .audited()
    .action(action('approve'));

  program
    .command('reject')
    .description('refuse a decision awaiting approval: the rule does not ask again about that target until the problem clears')
    .answers()
    .audited()
    .action(action('reject'));

  program
    .command('test')
    .argument('[files...]', "scenario files (default: the configuration's tests, or rules/*_test.yaml)")
    .description('run scenario tests for rules on a synthetic clock, never acting for real')
    .option('--run <pattern>', 'only scenarios whose name matches this regular expression')
    .option('--junit <file>', 'write JUnit XML here (valid against the common JUnit schema)')
    .option('--junit-locations', "with --junit: add each scenario's file and line to its testcase (outside that schema; GitLab reads them)")
    .json('print results as JSON')
    .action(action('test'));

  program
    .command('completion')
    .argument('<shell>', 'bash, zsh or fish')
    .description('print a shell completion script: source <(reflex completion bash), or see docs/operations.md')
    .action(action('completion'));

  // Before parsing: a usage error is reported in the format asked for.
  const lf = argv.indexOf('--log-format');
  const asked = lf >= 0 ? argv[lf + 1] : argv.find((a) => a.startsWith('--log-format='))?.slice('--log-format='.length);
  if (asked === 'json') configureLogging({ format: 'json' });

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

/**
 * How long a command may go on after SIGTERM or SIGINT before the process ends anyway: enough for actions in flight
 * to be stopped (their process group gets SIGTERM, then SIGKILL 2 s later) and recorded, and for people to be told.
 */
const STOP_GRACE_MS = 10_000;
const SIGNAL_NUMBER = { SIGINT: 2, SIGTERM: 15 } as const;

const controller = new AbortController();
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) {
      // A second signal: the person (or systemd) means it. What was in flight is recovered by the next run.
      process.stderr.write(`reflex: ${sig} again: exiting now; the next run marks what was in flight as interrupted\n`);
      process.exit(128 + SIGNAL_NUMBER[sig]);
    }
    stopping = true;
    diagnostic('warn', `reflex: ${sig}: stopping; no new action will start`);
    const reason = Object.assign(new Error(`the process was asked to stop (${sig})`), { name: 'StopSignal' });
    controller.abort(reason);
    // Whatever the command is waiting for, it ends within seconds (docs/reliability.md): under cron or systemd a
    // command that outlives its stop is one more stuck process each time.
    setTimeout(() => {
      process.stderr.write(`reflex: still busy ${STOP_GRACE_MS / 1000} s after ${sig}: exiting; the next run marks what was in flight as interrupted\n`);
      process.exit(128 + SIGNAL_NUMBER[sig]);
    }, STOP_GRACE_MS).unref();
  });
}
(globalThis as { reflexSignal?: AbortSignal }).reflexSignal = controller.signal;

// The console's worker thread starts from this same module (src/serve/worker.ts): it hands over at once.
if (!isMainThread && workerData?.[WORKER_KEY]) {
  void import('../serve/worker.js').then((w) => w.runWorker(workerData[WORKER_KEY], parentPort!));
} else
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof ExitError) {
        if (err.message) diagnostic('error', err.message);
        process.exitCode = err.exitCode;
      } else if (err instanceof Error && (err.name === 'StoreError' || err.name === 'LeaseLostError')) {
        diagnostic('error', `reflex: ${err.message}`);
        process.exitCode = EXIT.STORE;
      } else if (err instanceof UserError) {
        diagnostic('error', `reflex: ${err.message}`);
        process.exitCode = err.exitCode;
      } else {
        const e = err as Error;
        diagnostic('error', `reflex: internal error: ${e?.stack ?? String(err)}\nThis is a bug in Reflex; please report it with the command you ran.`);
        process.exitCode = EXIT.INTERNAL;
      }
    },
  );
