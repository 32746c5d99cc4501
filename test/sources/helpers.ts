// Small fakes for source tests, in one place: an in-memory source cache and hand-made sources.
import type { SourceCache } from '../../src/sources/collect.js';
import type { Source, SourceContext, SourceOutput } from '../../src/sources/types.js';

/** An in-memory implementation of the two store methods source cooldowns use (for tests that do not need a real store). */
export class MemoryCache implements SourceCache {
  readonly entries = new Map<string, { at: number; payload: Uint8Array }>();
  async getSourceCache(name: string) {
    return this.entries.get(name) ?? null;
  }
  async setSourceCache(name: string, at: number, payload: Uint8Array) {
    this.entries.set(name, { at, payload });
  }
}

/** A source whose collect is the given function. */
export function fakeSource(name: string, collect: (ctx: SourceContext) => Promise<SourceOutput>, declared: string[] | null = null): Source {
  return { name, kind: 'fake', declaredFacts: () => declared, collect };
}

export const baseOpts = { now: Date.parse('2025-01-01T00:00:00Z'), projectDir: '/', env: {}, concurrency: 4, defaultTimeoutMs: 2_000 };
