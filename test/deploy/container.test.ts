// The container image definition. No container runtime can build it on these machines (no daemon, and no registry
// to pull node:20-slim from), so it is linted here, and built when a Docker daemon answers (REFLEX_DOCKER_BUILD=1).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

const FILE = join(ROOT, 'deploy/container/Dockerfile');

interface Instruction {
  line: number;
  op: string;
  args: string;
}

/** Instructions with their line numbers, continuation lines joined, comments dropped (the Dockerfile grammar). */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i]!;
    if (/^\s*(#|$)/.test(l)) continue;
    const start = i + 1;
    while (l.endsWith('\\') && i + 1 < lines.length) l = `${l.slice(0, -1)} ${lines[++i]!.trim()}`;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile:${start}: not an instruction: ${l}`);
    out.push({ line: start, op: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return out;
}

/** Split into stages at each FROM. */
function stages(all: Instruction[]): { from: Instruction; body: Instruction[] }[] {
  const out: { from: Instruction; body: Instruction[] }[] = [];
  for (const ins of all) {
    if (ins.op === 'FROM') out.push({ from: ins, body: [] });
    else out.at(-1)?.body.push(ins);
  }
  return out;
}

const KNOWN = new Set([
  'FROM',
  'RUN',
  'CMD',
  'LABEL',
  'EXPOSE',
  'ENV',
  'ADD',
  'COPY',
  'ENTRYPOINT',
  'VOLUME',
  'USER',
  'WORKDIR',
  'ARG',
  'ONBUILD',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
]);

describe('deploy/container/Dockerfile', () => {
  const all = instructions(readFileSync(FILE, 'utf8'));
  const [build, runtime] = stages(all);

  it('uses only Dockerfile instructions, no ADD (COPY says what it does), no latest tag', () => {
    for (const i of all) expect(KNOWN.has(i.op), `line ${i.line}: ${i.op}`).toBe(true);
    expect(all.filter((i) => i.op === 'ADD')).toEqual([]);
    for (const s of stages(all)) expect(s.from.args).not.toMatch(/:latest\b/);
  });

  it('is multi-stage on node:20-slim: the native module and the build tools stay in the build stage', () => {
    expect(stages(all)).toHaveLength(2);
    expect(build!.from.args).toBe('node:20-slim AS build');
    expect(runtime!.from.args).toBe('node:20-slim AS runtime');
    const buildRuns = build!.body.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(buildRuns.some((r) => /apt-get install .*python3 .*make .*g\+\+/.test(r))).toBe(true);
    expect(buildRuns.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(buildRuns.some((r) => /npm run build/.test(r) && /npm prune --omit=dev/.test(r))).toBe(true);
    // The runtime installs nothing: no compiler, no npm install, no apt.
    for (const r of runtime!.body.filter((i) => i.op === 'RUN')) expect(r.args).not.toMatch(/apt-get|npm (ci|install)|g\+\+|make/);
    expect(runtime!.body.some((i) => i.op === 'COPY' && i.args.startsWith('--from=build '))).toBe(true);
  });

  it('runs as a numeric non-root user, with an exec-form entrypoint (signals reach Reflex, no shell)', () => {
    const users = runtime!.body.filter((i) => i.op === 'USER');
    expect(users).toHaveLength(1);
    expect(users[0]!.args).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    const after = runtime!.body.slice(runtime!.body.indexOf(users[0]!) + 1);
    expect(after.filter((i) => i.op === 'RUN')).toEqual([]);
    const entry = runtime!.body.find((i) => i.op === 'ENTRYPOINT')!;
    expect(JSON.parse(entry.args)).toEqual(['node', '/opt/reflex/dist/bin/reflex.cjs']);
    expect(Array.isArray(JSON.parse(runtime!.body.find((i) => i.op === 'CMD')!.args))).toBe(true);
  });

  it('copies only files that exist, and leaves host state out of the build context', () => {
    for (const c of build!.body.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) expect(existsSync(join(ROOT, src)), `line ${c.line}: ${src}`).toBe(true);
    }
    const ignore = readFileSync(join(ROOT, 'deploy/container/Dockerfile.dockerignore'), 'utf8');
    for (const p of ['**/node_modules', '**/.reflex', 'dist', '*.db']) expect(ignore.split('\n')).toContain(p);
  });

  it('builds, when a Docker daemon is there to build it (REFLEX_DOCKER_BUILD=1)', () => {
    if (!process.env.REFLEX_DOCKER_BUILD) return;
    const r = spawnSync('docker', ['build', '-f', FILE, '-t', 'reflex:test', ROOT], { encoding: 'utf8', timeout: 1_800_000 });
    expect(r.status, r.stderr).toBe(0);
    const v = spawnSync('docker', ['run', '--rm', '--read-only', 'reflex:test', '--version'], { encoding: 'utf8', timeout: 60_000 });
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });
});
