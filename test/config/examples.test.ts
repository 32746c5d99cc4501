// Every example project passes `reflex check`: the examples are the first thing users copy.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reflex, ROOT } from '../helpers.js';

const examples = readdirSync(join(ROOT, 'examples')).filter((d) => existsSync(join(ROOT, 'examples', d, 'reflex.yaml')));

describe('examples', () => {
  it('exist', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  for (const ex of examples) {
    it(`examples/${ex} passes reflex check with no problems`, () => {
      const r = reflex(['check'], { cwd: join(ROOT, 'examples', ex) });
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^ok: \d+ rules, /);
      expect(r.status).toBe(0);
    });
  }
});
