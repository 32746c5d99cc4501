// Text that reaches a terminal cannot steer it: control characters and bidirectional overrides in ids, labels, reasons
// and messages (from sources, rule files, a disable's reason) are shown as visible escapes, never interpreted.

/** C0 controls but tab and newline, DEL, C1 controls, and the Unicode marks that reorder or hide text. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

const NAMED: Record<string, string> = { '\r': '\\r', '\u001b': '\\e', '\u0007': '\\a', '\b': '\\b', '\f': '\\f', '\v': '\\v', '\u0000': '\\0' };

/** The text with every unsafe character written as an escape (`\e`, `\r`, `\x9b`, `\u202e`): what it holds, made visible. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * Make everything a command writes to standard output and error terminal-safe. Machine output (--json) is left
 * exact: JSON escapes what it must, and its consumers want the values as they are.
 */
export function guardTerminalOutput(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const s of streams) {
    const write = s.write.bind(s) as (chunk: unknown, ...rest: unknown[]) => boolean;
    s.write = ((chunk: unknown, ...rest: unknown[]) => write(typeof chunk === 'string' ? terminalSafe(chunk) : chunk, ...rest)) as typeof s.write;
  }
}
