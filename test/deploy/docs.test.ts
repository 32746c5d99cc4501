// Deployment snippets in the docs are held to the same checks as the files in deploy/: a systemd snippet that
// systemd would misread, or a Kubernetes object its API would refuse, fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers.js';
import { assignments, trailingComment, validateManifest } from './lint.js';

const docs = readdirSync(join(ROOT, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => ({ file: `docs/${f}`, text: readFileSync(join(ROOT, 'docs', f), 'utf8') }));

/** Fenced blocks of one language, with the line they start on. */
function blocks(text: string, lang: string): { line: number; body: string }[] {
  const out: { line: number; body: string }[] = [];
  for (const m of text.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))) {
    out.push({ line: text.slice(0, m.index).split('\n').length + 1, body: m[1]! });
  }
  return out;
}

describe('deployment snippets in docs/', () => {
  it('systemd units (```ini) carry no comment inside a value', () => {
    let seen = 0;
    for (const d of docs) {
      for (const b of blocks(d.text, 'ini')) {
        for (const a of assignments(b.body)) {
          seen++;
          expect(trailingComment(a), `${d.file}:${b.line + a.line - 1}: ${a.key}=${a.value}`).toBe(false);
        }
      }
    }
    expect(seen).toBeGreaterThan(10);
  });

  it('Kubernetes objects (```yaml with apiVersion and kind) are valid against the OpenAPI schemas', () => {
    let seen = 0;
    for (const d of docs) {
      for (const b of blocks(d.text, 'yaml')) {
        for (const doc of parseAllDocuments(b.body)) {
          const m = doc.toJSON();
          if (!m || typeof m !== 'object' || !m.apiVersion || !m.kind) continue;
          seen++;
          expect(() => validateManifest(m), `${d.file}:${b.line}: ${m.kind}`).not.toThrow();
        }
      }
    }
    expect(seen).toBeGreaterThan(0);
  });
});
