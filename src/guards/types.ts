// The guard interface: one guardrail, one module, one named reason. Guards run in a fixed order (guards/index.ts).
import type { Decision } from '../rules/evaluate.js';
import type { RunContext } from '../pipeline/types.js';

export interface Guard {
  readonly name: string;
  /**
   * Look at the decisions still on their way to acting (outcome `matched`) and stop the ones
   * this guardrail forbids, with a verdict that gives the numbers. Runs once per run, before
   * anything is journaled.
   */
  check(ctx: RunContext, live: Decision[]): Promise<void>;
}
