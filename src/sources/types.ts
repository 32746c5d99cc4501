// The one interface every source kind implements: collect facts about targets, within a deadline.
import type { TargetReport } from '../model.js';
import type { SourceConfig } from '../config/schema.js';

export interface SourceContext {
  /** Aborted when the source's timeout passes or the run is cancelled. Pass it to fetch/spawn. */
  signal: AbortSignal;
  /** The run's clock (ms since epoch). Sources judge staleness against it, never against Date.now(). */
  now: number;
  /** The project directory: relative paths in the source config resolve against it. */
  projectDir: string;
  /** The process environment (for allow-listed variables of commands). */
  env: NodeJS.ProcessEnv;
}

/** What a source returns. Anything it could not read is either an error (thrown) or a warning. */
export interface SourceOutput {
  targets: TargetReport[];
  /** Problems that did not make the whole source fail: a query that failed, an empty answer... */
  warnings: string[];
  /** Fact names this source set (for explanations: fact -> source). */
  facts: string[];
}

export interface Source {
  readonly name: string;
  readonly kind: string;
  /** Fact names this source is declared to provide, known before it runs (for `reflex check`). null = not known in advance. */
  declaredFacts(): string[] | null;
  /** Collect once. Throw (with a message for people) when the source as a whole failed. */
  collect(ctx: SourceContext): Promise<SourceOutput>;
}

/** A thrown error whose message is already fit for people (no stack needed). */
export class SourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SourceError';
  }
}

export type SourceFactory = (config: SourceConfig) => Source;
