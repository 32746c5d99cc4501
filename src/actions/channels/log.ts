// The log channel: escalations as JSON lines, appended to a file or written to standard error.
import { appendFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { z } from 'zod';
import type { LogChannel } from '../../config/schema.js';
import { makeRedactor } from '../../redact.js';
import type { Channel, EscalationMessage } from '../types.js';
import { redactValue, type ChannelOptions, type SendContext } from './common.js';

export function logChannel(name: string, config: z.output<typeof LogChannel>, options: ChannelOptions = {}): Channel {
  const now = options.now ?? Date.now;
  const stderr = options.stderr ?? ((line: string) => void process.stderr.write(line));
  const line = (msg: EscalationMessage, secrets: readonly string[], at: number | null = now()) =>
    `${JSON.stringify(redactValue({ ...(at === null ? {} : { time: new Date(at).toISOString() }), channel: name, ...msg }, makeRedactor(secrets)))}\n`;
  return {
    name,
    kind: 'log',
    // What would be written, without the time it is written at: a dry run that would send the same
    // message as the run before records the same words (and so stores nothing new, docs/performance.md).
    describe: (msg) => `log ${config.path ?? 'stderr'} ${line(msg, options.secrets ?? [], null).trimEnd()}`,
    send: async (msg, ctx: SendContext) => {
      const started = performance.now();
      const text = line(msg, [...(options.secrets ?? []), ...ctx.secrets]);
      try {
        if (config.path) await appendFile(resolve(ctx.projectDir, config.path), text, { encoding: 'utf8', mode: 0o600 });
        else stderr(text);
        return { status: 'succeeded', durationMs: Math.round(performance.now() - started), output: '' };
      } catch (err) {
        return {
          status: 'failed',
          durationMs: Math.round(performance.now() - started),
          output: '',
          error: `cannot write ${config.path}: ${(err as Error).message}`,
        };
      }
    },
  };
}
