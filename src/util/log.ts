// A small leveled logger to standard error (standard output is for results and --json); secrets redacted.
// `--log-format json` makes every line one JSON object (time, level, msg, and run, stage, rule, target where they
// apply) for journald, Loki or any log pipeline. Small on purpose: a run logs a few lines, and starting fast matters
// more than a logging framework's features (pino would add ~40 ms to every start for nothing a run needs).
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** Context a line is about: the run, the stage, the rule and target, a source, an execution. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** The same logger, with these fields on every line. */
  child?(fields: LogFields): Logger;
}

/** What `--log-format`, `--verbose` and `--quiet` chose for this process (cli/main.ts sets it once). */
interface Settings {
  format: LogFormat;
  level: Level;
  /** The command being run, on every JSON line. */
  command?: string;
}
let settings: Settings = { format: 'text', level: 'info' };

export function configureLogging(s: Partial<Settings>): void {
  settings = { ...settings, ...s };
}

export function logFormat(): LogFormat {
  return settings.format;
}

export interface LoggerOptions {
  /** Default: the process's level (--verbose: debug, --quiet: warn, else info). */
  level?: Level;
  /** Default: the process's format (--log-format). */
  format?: LogFormat;
  redact?: (s: string) => string;
  write?: (line: string) => void;
  fields?: LogFields;
  /** The clock of the `time` field (tests). */
  now?: () => number;
}

export function makeLogger(opts: LoggerOptions = {}): Logger {
  const min = ORDER[opts.level ?? settings.level];
  const format = opts.format ?? settings.format;
  const redact = opts.redact ?? ((s: string) => s);
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = opts.now ?? Date.now;
  const bound = opts.fields ?? {};
  const log = (level: Level) => (msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    if (format === 'text') {
      write(`${level === 'info' ? '' : `${level}: `}${redact(msg)}`);
      return;
    }
    const doc: Record<string, unknown> = { time: new Date(now()).toISOString(), level, msg: redact(msg) };
    if (settings.command) doc.command = settings.command;
    for (const [k, v] of Object.entries({ ...bound, ...fields })) {
      if (v !== undefined) doc[k] = typeof v === 'string' ? redact(v) : v;
    }
    // JSON escapes C0 controls; the rest of what could steer a terminal (C1 controls, bidi marks) is escaped here,
    // the same way, so a line stays valid JSON and safe on a terminal. A message spanning lines stays one line.
    write(JSON.stringify(doc).replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => makeLogger({ ...opts, level: opts.level ?? settings.level, format, fields: { ...bound, ...fields } }),
  };
}

/** A logger with more fields, for loggers that may not have `child` (tests pass plain objects). */
export function withFields(log: Logger, fields: LogFields): Logger {
  return log.child ? log.child(fields) : log;
}

/**
 * One diagnostic from the command line itself (an error before or after a command ran): `reflex: ...` as text, or
 * one JSON object per line of the message.
 */
export function diagnostic(level: Level, text: string, fields?: LogFields): void {
  if (settings.format === 'text') {
    process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
    return;
  }
  const log = makeLogger({ level: 'debug' });
  for (const raw of text.replace(/\n$/, '').split('\n')) {
    const line = raw.replace(/^(reflex|error): /, '');
    if (line.trim() === '') continue;
    // A configuration problem keeps its position as fields: file, line, col.
    const at = /^(\S.*?):(\d+):(\d+): (.*)$/.exec(line);
    if (at) log[level](at[4]!, { ...fields, file: at[1]!, line: Number(at[2]), col: Number(at[3]) });
    else log[level](line, fields);
  }
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLogger };
