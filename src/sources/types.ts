// The one interface every source kind implements: collect facts about targets, within a deadline.
import type { FactValue, TargetReport } from '../model.js';
import type { FactTypeName, SourceConfig } from '../config/schema.js';

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
  /**
   * Values for facts that this source's success implies for targets it did not mention:
   * Alertmanager answering with no alert for a target means that target has no alerts (`alerts: []`),
   * which is not the same as "unknown". The collector gives each listed fact to every target
   * (of `kind`, when set) that has neither a value nor an unknown-reason for it, and only when
   * the source succeeded (or its result was reused from its cooldown cache).
   */
  defaults?: DefaultFacts[];
  /**
   * The target reports (and their labels, depends_on and facts objects) are new objects that the
   * source keeps no reference to, so the collector may take them as targets instead of copying
   * them (a run then adds derived facts to them). Sources that return the same objects twice
   * must leave this unset.
   */
  owned?: boolean;
  /** No two target reports share an id (the collector then needs no index to merge this source alone). */
  distinct?: boolean;
  /**
   * Mistakes in the data (a misspelt field, a wrong type, a value out of range), the first few, each
   * `where: message` (an inventory's `where` is `file:line:col`, so `reflex check` reports them there).
   */
  problems?: string[];
  /** Records with a mistake: left out (no id), or reported with their facts unknown and the reason. */
  malformed?: number;
}

export interface DefaultFacts {
  /** Only targets of this kind; all targets when absent. */
  kind?: string;
  facts: Record<string, FactValue>;
}

export interface Source {
  readonly name: string;
  readonly kind: string;
  /** Fact names this source is declared to provide, known before it runs (for `reflex check`). null = not known in advance. */
  declaredFacts(): string[] | null;
  /**
   * The types declared for some of its facts (`type: bool|number|string`): `reflex check` type-checks
   * expressions against them, and the collector makes a value of another type unknown.
   */
  declaredTypes?(): Record<string, FactTypeName>;
  /** How deeply a fact value may nest (the source's `max_depth`); deeper values are unknown. Set by createSource. */
  readonly maxDepth?: number;
  /**
   * Changes when the source's configuration changes; a cached result (source cooldown) is only
   * reused when it was collected with the same fingerprint. Set by createSource.
   */
  readonly fingerprint?: string;
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
