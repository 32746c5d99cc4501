// docs/console.md stays true: its pictures exist, its deployment files parse, and the flags they pass are real.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { reflex, ROOT } from '../helpers.js';

const MD = readFileSync(join(ROOT, 'docs/console.md'), 'utf8');
const blocks = (lang: string) => [...MD.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);

describe('docs/console.md', () => {
  it('shows only screenshots that exist', () => {
    const images = [...MD.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
    expect(images.length).toBeGreaterThanOrEqual(8);
    for (const i of images) expect(existsSync(join(ROOT, 'docs', i)), i).toBe(true);
  });

  it('has a Kubernetes Deployment and Service that parse, passing only flags reflex serve has', () => {
    const help = reflex(['serve', '--help']).stdout + reflex(['--help']).stdout; // -c/--config is global
    const docs = blocks('yaml').flatMap((b) => parseAllDocuments(b).map((d) => d.toJS()));
    const kinds = docs.map((d) => d.kind);
    expect(kinds).toEqual(expect.arrayContaining(['Deployment', 'Service']));
    const dep = docs.find((d) => d.kind === 'Deployment');
    const args: string[] = dep.spec.template.spec.containers[0].args;
    expect(args[0]).toBe('serve');
    for (const a of args.filter((x) => x.startsWith('--'))) expect(help, a).toContain(a);
    const svc = docs.find((d) => d.kind === 'Service');
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
  });

  it('has a systemd unit whose ExecStart uses real flags', () => {
    const unit = blocks('ini').find((b) => b.includes('[Service]'))!;
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!;
    const help = reflex(['serve', '--help']).stdout + reflex(['--help']).stdout; // -c/--config is global
    for (const f of exec.split(/\s+/).filter((x) => x.startsWith('--'))) expect(help, f).toContain(f);
    expect(unit).toMatch(/^\[Install\]$/m);
  });
});
