// What actions keep and print: size-limited output and display-safe JSON.
import { longestSecret } from '../redact.js';

/** Default bytes of output (command output, response body) kept per execution. */
export const DEFAULT_MAX_OUTPUT = 64 * 1024;

/**
 * Collects output chunks up to a byte limit and counts what it drops. It keeps
 * a little more than the limit (the length of the longest secret) so that a
 * secret straddling the cut is still whole when redacted, then cuts.
 */
export class OutputCollector {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  total = 0;
  private readonly capacity: number;

  constructor(
    readonly limit: number,
    secrets: readonly string[] = [],
  ) {
    this.capacity = limit + 4 * longestSecret(secrets);
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.capacity - this.kept;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(Buffer.from(part));
    this.kept += part.length;
  }

  /** True once more than `limit` bytes arrived. */
  get truncated(): boolean {
    return this.total > this.limit;
  }

  /** The kept text, redacted, cut to `limit` bytes, with a marker saying how much was dropped. */
  text(redact: (text: string) => string): string {
    let text = redact(Buffer.concat(this.chunks).toString('utf8'));
    if (!this.truncated) return text;
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > this.limit) {
      let end = this.limit;
      // Do not cut a UTF-8 sequence in half: back up to the start of the character.
      while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
      text = bytes.subarray(0, end).toString('utf8');
    }
    return `${text}\n[reflex: output truncated at ${this.limit} bytes; ${this.total - this.limit} more bytes not kept]`;
  }
}

/**
 * Characters that change how text looks without being seen: C1 controls,
 * bidirectional overrides and isolates (the "Trojan Source" trick that can
 * make `restart web-1` read as something else), zero-width characters, line
 * separators. JSON.stringify leaves them as they are; people reading a dry run
 * must see them.
 */
const INVISIBLE_RE = /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/g;

/** JSON for people: valid JSON in which invisible and direction-changing characters are written as \uXXXX escapes. */
export function displayJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(INVISIBLE_RE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value quoted for an error message: display-safe JSON, cut to `max` characters. */
export function quote(value: string, max = 120): string {
  if (value.length <= max) return displayJson(value);
  return `${displayJson(value.slice(0, max))}… (${value.length} characters)`;
}
