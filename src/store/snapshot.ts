// Facts snapshots stored by change: the encoding both stores share (one text and digest per target, the order once).
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { SnapshotInput, SnapshotParts } from './types.js';

/**
 * A snapshot ready for `finishRun`: `meta` (everything but the targets) and each target as JSON,
 * redacted, with its digest. Called before derive rules add facts to the targets. With `base` (the
 * newest stored snapshot, which nothing else can replace before this run records: it holds the only
 * lease), only the texts of targets that differ from it are kept: an unchanged target's text is made,
 * digested and dropped at once, so a run over a fleet that changed little holds only what changed
 * (at 1,000,000 targets, half a gigabyte less). `base.ids` is needed only when its order differs.
 */
export function snapshotInput(
  meta: Record<string, unknown>,
  targets: readonly { id: string }[],
  redact: (s: string) => string,
  base?: { seq: number; order: string | null; digests: Uint8Array | null; ids: readonly string[] | null },
  fleetOrder: { ids: string[]; order: string } = snapshotOrder(targets),
): SnapshotInput {
  const n = targets.length;
  const { ids, order } = fleetOrder;
  const texts = new Array<string | undefined>(n);
  const digests = new Uint8Array(n * DIGEST_BYTES);
  // Where each target was in the base: the same place when the order is the same (the usual case), else by id.
  const bd = base?.digests ?? null;
  const samePlace = bd !== null && base!.order === order && bd.length === digests.length;
  let at: Map<string, number> | null = null;
  if (bd !== null && !samePlace && base!.ids) {
    at = new Map();
    for (let j = 0; j < base!.ids.length; j++) at.set(base!.ids[j]!, j);
  }
  const compare = samePlace || at !== null;
  for (let i = 0; i < n; i++) {
    const text = redact(JSON.stringify(targets[i]));
    digests.set(digestOf(text), i * DIGEST_BYTES);
    const j = !compare ? -1 : samePlace ? i : (at!.get(ids[i]!) ?? -1);
    // Written either way: an array with holes would be skipped by map and filter.
    texts[i] = j === -1 || !sameDigest(bd!, j, digests, i) ? text : undefined;
  }
  const out: SnapshotInput = { meta: redact(JSON.stringify(meta)), ids, texts, digests, order };
  if (compare) out.base = base!.seq;
  return out;
}

/** The targets' ids in order and the digest of that order (orderHash). */
export function snapshotOrder(targets: readonly { id: string }[]): { ids: string[]; order: string } {
  const ids = new Array<string>(targets.length);
  for (let i = 0; i < targets.length; i++) ids[i] = targets[i]!.id;
  return { ids, order: orderHash(ids) };
}

/**
 * Bytes of a target's digest: the first 12 of its SHA-1 (a content address, not a signature). The
 * chance that a changed target keeps its digest is 2^-96 per change: nothing a fleet will meet.
 */
export const DIGEST_BYTES = 12;

/** One-shot hashing (Node 20.12 and later) is about a third cheaper than a Hash object per target. */
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'buffer') => Buffer }).hash;

export function digestOf(text: string): Uint8Array {
  const d = oneShot ? oneShot('sha1', text, 'buffer') : createHash('sha1').update(text).digest();
  return d.subarray(0, DIGEST_BYTES);
}

/** Whether target `i` of `a` and target `j` of `b` have the same digest. */
export function sameDigest(a: Uint8Array, i: number, b: Uint8Array, j: number): boolean {
  const x = i * DIGEST_BYTES;
  const y = j * DIGEST_BYTES;
  for (let k = 0; k < DIGEST_BYTES; k++) if (a[x + k] !== b[y + k]) return false;
  return true;
}

/**
 * What a new snapshot must store, compared with the newest stored one (the head: its order and
 * digests): the indexes of the targets that are new or changed, and the ids that left the fleet.
 * Positions are compared directly when the order is the same (the usual case), ids otherwise.
 */
export function changesSince(
  head: { order: string | null; ids: () => string[]; digests: Uint8Array | null },
  snap: SnapshotInput,
  order: string,
): { changed: number[]; gone: string[] } {
  return changes(head, snap, order);
}

function changes(
  head: { order: string | null; ids: () => string[]; digests: Uint8Array | null },
  snap: SnapshotInput,
  order: string,
): { changed: number[]; gone: string[] } {
  const changed: number[] = [];
  const n = snap.ids.length;
  const hd = head.digests;
  if (hd === null || head.order === null) {
    for (let i = 0; i < n; i++) changed.push(i);
    return { changed, gone: [] };
  }
  if (head.order === order && hd.length === snap.digests.length) {
    for (let i = 0; i < n; i++) if (!sameDigest(hd, i, snap.digests, i)) changed.push(i);
    return { changed, gone: [] };
  }
  const before = head.ids();
  const at = new Map<string, number>();
  for (let j = 0; j < before.length; j++) at.set(before[j]!, j);
  for (let i = 0; i < n; i++) {
    const j = at.get(snap.ids[i]!);
    if (j === undefined || !sameDigest(hd, j, snap.digests, i)) changed.push(i);
    if (j !== undefined) at.delete(snap.ids[i]!);
  }
  return { changed, gone: [...at.keys()] };
}

/** The digest of a list of target ids in order: runs over the same fleet share one stored order. */
export function orderHash(ids: readonly string[]): string {
  const h = createHash('sha1');
  for (const id of ids) h.update(id).update('\u0000');
  return h.digest('base64').slice(0, 27);
}

/** A list of ids as stored (gzip-compressed JSON array). */
export function encodeOrder(ids: readonly string[]): Buffer {
  return gzipSync(JSON.stringify(ids), { level: 6 });
}

export function decodeOrder(bytes: Uint8Array): string[] {
  return JSON.parse(gunzipSync(bytes).toString('utf8')) as string[];
}

/** Metadata as stored in run_snapshots.data (compressed: source reports can be long). */
export function encodeMeta(meta: string): Buffer {
  return gzipSync(meta, { level: 6 });
}

export function decodeMeta(bytes: Uint8Array): string {
  return gunzipSync(bytes).toString('utf8');
}

/** The snapshot as one JSON text, `{"v":1,...meta,"targets":[...]}`, the shape of a snapshot stored whole. */
export function snapshotJson(parts: Exclude<SnapshotParts, { whole: Uint8Array }>): string {
  const meta = parts.meta.trim();
  const head = meta === '{}' ? '{' : `${meta.slice(0, -1)},`;
  return `${head}"targets":[${parts.texts.join(',')}]}`;
}

/** The parsed JSON of a stored snapshot, whichever way it was stored. */
export function parseSnapshot(parts: SnapshotParts): unknown {
  if ('whole' in parts) return JSON.parse(gunzipSync(parts.whole).toString('utf8'));
  return JSON.parse(snapshotJson(parts));
}

/** Assemble target texts (by id) into the run's order; a missing one means the store lost a version. */
export function inOrder(ids: readonly string[], byId: Map<string, string>, runId: number): string[] {
  const out = new Array<string>(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const t = byId.get(ids[i]!);
    if (t === undefined) throw new Error(`the snapshot of run ${runId} lacks target "${ids[i]}": the store is inconsistent`);
    out[i] = t;
  }
  return out;
}
