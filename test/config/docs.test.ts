// The rule examples in docs/rules.md pass `reflex check`, so the documentation cannot drift from the language.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, reflex, ROOT } from '../helpers.js';

/** The ```yaml blocks of a Markdown file that are whole rule files (they start with rules:, aggregates: or groups:). */
function ruleFileBlocks(md: string): string[] {
  return [...md.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((b) => /^(rules|aggregates|groups):/m.test(b.replace(/^#.*\n/gm, '').split('\n')[0] ?? ''));
}

const CONFIG = `rules: [rules/*.yaml]
sources:
  - name: health
    kind: command
    argv: [node, health.mjs]
    facts: [healthy, restarts_1h, p99_latency_ms, replication_lag_s, cpu, up, disk_used_pct, version]
actions:
  restart-instance:
    kind: exec
    argv: [echo, "{{ params.instance }}"]
    params: { instance: { pattern: "[a-z0-9-]+" } }
channels:
  oncall: { kind: log }
`;

describe('docs/rules.md', () => {
  it('every whole rule file it shows passes reflex check', () => {
    const blocks = ruleFileBlocks(readFileSync(join(ROOT, 'docs/rules.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const files: Record<string, string> = { 'reflex.yaml': CONFIG };
    blocks.forEach((b, i) => (files[`rules/doc${i}.yaml`] = b));
    const r = reflex(['check'], { cwd: fixture(files) });
    expect(r.stdout).toMatch(/^ok: /);
    expect(r.status).toBe(0);
  });

  it('shows the yaml-language-server line that reflex init writes', () => {
    const md = readFileSync(join(ROOT, 'docs/rules.md'), 'utf8');
    expect(md).toContain('# yaml-language-server: $schema=../schema/rules.schema.json');
    expect(md).toContain('# yaml-language-server: $schema=schema/config.schema.json');
  });
});
