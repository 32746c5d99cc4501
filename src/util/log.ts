// A small leveled logger to standard error (standard output is for results and --json); secrets redacted.
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function makeLogger(opts: { level?: Level; redact?: (s: string) => string; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const redact = opts.redact ?? ((s: string) => s);
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const log = (level: Level) => (msg: string) => {
    if (ORDER[level] >= min) write(`${level === 'info' ? '' : `${level}: `}${redact(msg)}`);
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
