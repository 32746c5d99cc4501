// The off switch must work when nothing else does: `reflex disable --all` and `enable --all` read only where the store
// is from reflex.yaml (no rules, sources or checks), so a person can stop automation fast, even with a broken project.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseDocument } from 'yaml';
import { resolveConfigPath } from '../config/load.js';

const DEFAULT_STORE = '.reflex/state.db';
const ENV_RE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Where the project's store is, read from reflex.yaml alone (with `${VAR}` and `${VAR:-default}` as everywhere),
 * or null when that cannot be told without loading the project (the caller then loads it and reports why).
 */
export function storeLocation(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): { store: string; dir: string } | null {
  let path: string;
  let text: string;
  try {
    path = resolveConfigPath(explicit);
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length) return null;
  const raw = doc.get('store');
  if (raw !== undefined && typeof raw !== 'string') return null;
  let missing = false;
  const store = (raw ?? DEFAULT_STORE).replace(ENV_RE, (m, name: string | undefined, def: string | undefined) => {
    if (m === '$${') return '${';
    const v = env[name!];
    if (v === undefined || v === '') {
      if (def !== undefined) return def;
      missing = true;
    }
    return v ?? '';
  });
  return missing || !store ? null : { store, dir: dirname(path) };
}
