// The run's outbox: everything a person must hear, and the writes guards decide on (a breaker's disable and its
// audit record), appended by the stages that decide them and carried out by the notify stage only, after the fence.
// A runner that froze past its lease wakes up with old facts: the fence refuses it, so it sends and writes nothing.
// A leaf module (types and small constructors): guards and stages both append here without importing each other.
import type { EscalationMessage } from '../actions/types.js';
import type { Decision } from '../rules/evaluate.js';
import type { AuditRecord, DisableRecord } from '../store/types.js';

/** One message to a person, standing for zero or more decisions (a breaker's for a whole group, an interrupted execution's for none). */
export interface OutboxMessage {
  /** The channel to send on; null when there is none (the decisions' traces say so). */
  channel: string | null;
  message: EscalationMessage;
  /** The decisions this one message stands for: they end `escalated` when it is sent (or already open). */
  decisions: Decision[];
  /** Only describe it: the decisions come from rules in dry-run (shadow) mode. */
  shadow: boolean;
  /** Send it again when the open message with the same key has a different summary (a cause whose set of targets changed). */
  update?: boolean;
}

/** Resolve the open messages under `prefix` whose problem this run saw gone. */
export interface OutboxResolve {
  prefix: string;
  settled: (dedupKey: string) => boolean;
}

/** A disable a guard decided on (the failure breaker), written with its audit record after the fence; its message follows it. */
export interface OutboxDisable {
  disable: Omit<DisableRecord, 'id' | 'removedAt' | 'removedBy'>;
  audit: Omit<AuditRecord, 'id'>;
  /** Sent once the disable is written, with the disable's id in its details. */
  message?: OutboxMessage;
}

export interface Outbox {
  disables: OutboxDisable[];
  messages: OutboxMessage[];
  resolves: OutboxResolve[];
}

export function emptyOutbox(): Outbox {
  return { disables: [], messages: [], resolves: [] };
}
