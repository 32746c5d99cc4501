import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fixture } from '../../test/helpers.js';
import { formatDiagnostic } from './diagnostics.js';
import { loadProject } from './load.js';

const load = (files: Record<string, string>, env: NodeJS.ProcessEnv = {}) => {
  const dir = fixture(files);
  const r = loadProject(join(dir, 'reflex.yaml'), env);
  return { ...r, msgs: r.diagnostics.map((d) => formatDiagnostic({ ...d, file: d.file.split('/').pop()! })) };
};

describe('loadProject', () => {
  it('loads a minimal project with defaults filled in', () => {
    const r = load({
      'reflex.yaml': 'rules: [rules/*.yaml]\n',
      'rules/a.yaml': 'rules:\n  - name: r1\n    target: { kind: instance }\n    when: { down: "facts.up == 0" }\n',
    });
    expect(r.msgs).toEqual([]);
    expect(r.project!.rules.map((x) => x.name)).toEqual(['r1']);
    expect(r.project!.config.defaults.mode).toBe('dry-run');
    expect(r.project!.config.store).toBe('.reflex/state.db');
  });

  it('reports an unknown field with its line, column and a suggestion', () => {
    const r = load({ 'reflex.yaml': 'rules: [r.yaml]\ndefaults:\n  cooldwon: 5m\n', 'r.yaml': 'rules: []\n' });
    expect(r.msgs).toEqual(['reflex.yaml:3:3: unknown field "cooldwon", did you mean "cooldown"?']);
  });

  it('substitutes environment variables and never prints their values', () => {
    const r = load(
      {
        'reflex.yaml': 'rules: [r.yaml]\nchannels:\n  pd: { kind: pagerduty, routing_key: "${PD_KEY}" }\n  bad: { kind: slack, url: 42 }\n',
        'r.yaml': 'rules: []\n',
      },
      { PD_KEY: 'sekrit-value' },
    );
    expect(r.msgs.join('\n')).not.toContain('sekrit-value');
    expect(r.msgs).toEqual(['reflex.yaml:4:28: "url" must be text, not number 42']);
  });
});
