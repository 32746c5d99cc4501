// docs/console.md stays true: its pictures exist, and it points at the deployment files rather than copying them.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

const MD = readFileSync(join(ROOT, 'docs/console.md'), 'utf8');
const blocks = (lang: string) => [...MD.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);

describe('docs/console.md', () => {
  it('shows only screenshots that exist', () => {
    const images = [...MD.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
    expect(images.length).toBeGreaterThanOrEqual(8);
    for (const i of images) expect(existsSync(join(ROOT, 'docs', i)), i).toBe(true);
  });

  it('points at the deployment files and their page instead of copying them', () => {
    // The files themselves are tested in test/deploy (they parse, pass only real flags, probe /healthz).
    expect(MD).toContain('[deploy.md](deploy.md)');
    for (const f of ['deploy/systemd/reflex-serve.service', 'deploy/kubernetes/serve.yaml']) {
      expect(MD).toContain(f);
      expect(existsSync(join(ROOT, f)), f).toBe(true);
    }
    expect(blocks('yaml')).toEqual([]);
    expect(blocks('ini')).toEqual([]);
  });
});
