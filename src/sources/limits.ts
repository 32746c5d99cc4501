// The limits a source's data is read under (size and nesting), with their defaults: what is over them is refused or unknown, never a crash.
import type { SourceConfig } from '../config/schema.js';

/** Default of `max_bytes` for files and HTTP answers. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Default of `max_bytes` for a command's standard output. */
export const DEFAULT_COMMAND_MAX_BYTES = 16 * 1024 * 1024;

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3 };

/** `64MiB`, `512KiB`, `1GB` or a number of bytes, as bytes. */
export function parseByteSize(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]i?B|B)$/i.exec(v.trim());
  if (!m) throw new Error(`"${v}" is not a size such as 64MiB`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
}

/** The size limit of one source: its `max_bytes`, or the default for its kind. */
export function maxBytesOf(config: SourceConfig): number {
  if (config.max_bytes !== undefined) return parseByteSize(config.max_bytes);
  return config.kind === 'command' ? DEFAULT_COMMAND_MAX_BYTES : DEFAULT_MAX_BYTES;
}

/** A size for people: 64 MiB, 1.5 KiB, 200 bytes. */
export function sizeText(n: number): string {
  if (n >= 1024 ** 3) return `${trim(n / 1024 ** 3)} GiB`;
  if (n >= 1024 ** 2) return `${trim(n / 1024 ** 2)} MiB`;
  if (n >= 1024) return `${trim(n / 1024)} KiB`;
  return `${n} bytes`;
}

function trim(x: number): string {
  return x >= 100 ? String(Math.round(x)) : String(Math.round(x * 10) / 10);
}
