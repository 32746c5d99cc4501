// Facts snapshots stored by change: the encoding both stores share (one text and digest per target, the order once).
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { SnapshotInput, SnapshotParts } from './types.js';

/**
 * A snapshot ready for `finishRun`: `meta` (everything but the targets) and each target as JSON,
 * redacted, with its digest. Called before derive rules add facts to the targets.
 */
export function snapshotInput(meta: Record<string, unknown>, targets: readonly { id: string }[], redact: (s: string) => string): SnapshotInput {
  const ids = new Array<string>(targets.length);
  const texts = new Array<string>(targets.length);
  const hashes = new Array<string>(targets.length);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    const text = redact(JSON.stringify(t));
    ids[i] = t.id;
    texts[i] = text;
    // SHA-1 is a content address here, not a signature; base64 keeps the stored digest short (27 characters).
    hashes[i] = createHash('sha1').update(text).digest('base64').slice(0, 27);
  }
  return { meta: redact(JSON.stringify(meta)), ids, texts, hashes };
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
