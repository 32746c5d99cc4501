// JSON encodings shared by the SQLite and PostgreSQL stores, so both keep exactly the same data.
import { createHash } from 'node:crypto';
import type { ConditionResult, FactValue } from '../model.js';
import type { DecisionRecord } from './types.js';

/**
 * Conditions are stored with their inputs as [name, value] pairs, and an unknown input as
 * [name] alone: plain JSON would drop `undefined` values, and `reflex why` needs to say
 * which facts a condition referenced but did not know.
 */
export function encodeConditions(conditions: ConditionResult[]): string {
  return JSON.stringify(
    conditions.map((c) => (c.inputs === undefined ? c : { ...c, inputs: Object.entries(c.inputs).map(([k, v]) => (v === undefined ? [k] : [k, v])) })),
  );
}

export function decodeConditions(text: string): ConditionResult[] {
  const raw = JSON.parse(text) as (Omit<ConditionResult, 'inputs'> & { inputs?: ([string] | [string, FactValue])[] })[];
  return raw.map((c) => {
    if (c.inputs === undefined) return c as ConditionResult;
    // fromEntries defines own properties, so even a fact named "__proto__" comes back as a key.
    const inputs: Record<string, FactValue | undefined> = Object.fromEntries(c.inputs.map((p) => [p[0], p.length === 2 ? p[1] : undefined]));
    return { ...c, inputs };
  });
}

export function toJson(value: unknown): string {
  return JSON.stringify(value);
}

export function fromJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** A plain Uint8Array view of driver bytes (Buffer is a subclass; callers compare plain arrays). */
export function bytes(b: Uint8Array | null): Uint8Array | null {
  if (b === null) return null;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Statuses an execution ends in (anything but intent and running). */
export const FINISHED_STATUSES = ['succeeded', 'failed', 'timed_out', 'interrupted', 'refused'] as const;

/**
 * A decision's body (its conditions, trace and actions) as stored once in decision_bodies, and the
 * key it is stored under: a run that decides as the one before refers to the same bodies.
 */
export function encodeBody(d: Pick<DecisionRecord, 'conditions' | 'trace' | 'actions'>): { hash: string; text: string } {
  const text = `{"c":${encodeConditions(d.conditions)},"t":${JSON.stringify(d.trace)},"a":${d.actions === undefined ? 'null' : JSON.stringify(d.actions)}}`;
  return { hash: createHash('sha1').update(text).digest('base64').slice(0, 22), text };
}

export function decodeBody(text: string): Pick<DecisionRecord, 'conditions' | 'trace' | 'actions'> {
  const b = JSON.parse(text) as { c: unknown; t: DecisionRecord['trace']; a: DecisionRecord['actions'] | null };
  const out: Pick<DecisionRecord, 'conditions' | 'trace' | 'actions'> = { conditions: decodeConditions(JSON.stringify(b.c)), trace: b.t };
  if (b.a !== null && b.a !== undefined) out.actions = b.a;
  return out;
}
