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
 * key it is stored under: a run that decides as the one before refers to the same bodies. The run's
 * own time and id (a would-be message names them: `"at":1796301248746`, `reflex why X --run 2`) are
 * written as markers and put back from the row when read, so that the same decision in the next run
 * has the same body. A marker starts with U+0001, which JSON text never holds raw (JSON.stringify
 * escapes every control character), so replacing and restoring are exact inverses.
 */
export function encodeBody(d: Pick<DecisionRecord, 'conditions' | 'trace' | 'actions' | 'at'>, runId: number): { hash: string; text: string } {
  let text = `{"c":${encodeConditions(d.conditions)},"t":${JSON.stringify(d.trace)},"a":${d.actions === undefined ? 'null' : JSON.stringify(d.actions)}}`;
  text = text.split(String(d.at)).join(AT);
  for (const [marker, value] of runMarkers(runId)) text = text.split(value).join(marker);
  return { hash: createHash('sha1').update(text).digest('base64').slice(0, 22), text };
}

export function decodeBody(stored: string, runId: number, at: number): Pick<DecisionRecord, 'conditions' | 'trace' | 'actions'> {
  let text = stored;
  if (text.includes('\u0001')) {
    for (const [marker, value] of runMarkers(runId)) text = text.split(marker).join(value);
    text = text.split(AT).join(String(at));
  }
  const b = JSON.parse(text) as { c: unknown; t: DecisionRecord['trace']; a: DecisionRecord['actions'] | null };
  const out: Pick<DecisionRecord, 'conditions' | 'trace' | 'actions'> = { conditions: decodeConditions(JSON.stringify(b.c)), trace: b.t };
  if (b.a !== null && b.a !== undefined) out.actions = b.a;
  return out;
}

const AT = '\u0001at\u0001';
/** How a body names its run: in a message's details (plain and as escaped JSON inside a string) and in a `reflex why` hint. */
const runMarkers = (runId: number): [string, string][] => [
  ['\u0001run1\u0001', `\\"run\\":${runId}`],
  ['\u0001run2\u0001', `"run":${runId}`],
  ['\u0001run3\u0001', `--run ${runId}`],
];
