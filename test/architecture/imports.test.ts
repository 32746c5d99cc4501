// The dependency direction of src/ (docs/architecture.md): no runtime import cycle, and the layers import only downwards.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

const SRC = join(ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return files(p);
    return /\.tsx?$/.test(n) && !/\.test\.tsx?$/.test(n) ? [p] : [];
  });
}

/**
 * Runtime imports of a module: `import ... from`, `export ... from` and `import()`, leaving out type-only ones
 * (`import type`, `export type`, and imports whose every name is `type X`), which vanish at compile time.
 */
function runtimeImports(file: string, text: string): string[] {
  const out: string[] = [];
  const stmt = /(?:^|\n)\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(stmt)) {
    if (m[2]) continue;
    const names = m[3]!.trim();
    const braces = /^\{([\s\S]*)\}$/.exec(names);
    if (braces && braces[1]!.split(',').every((n) => !n.trim() || /^type\s/.test(n.trim()))) continue;
    out.push(m[4]!);
  }
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    // `import('x').T` in a type position is not a runtime import.
    const after = text.slice(m.index! + m[0].length, m.index! + m[0].length + 1);
    if (after !== '.') out.push(m[1]!);
  }
  return out
    .filter((s) => s.startsWith('.'))
    .map((s) => {
      const base = resolve(dirname(file), s.replace(/\.js$/, ''));
      for (const c of [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) {
        try {
          if (statSync(c).isFile()) return c;
        } catch {
          /* next */
        }
      }
      return `${base}.ts`;
    });
}

const graph = new Map(files(SRC).map((f) => [f, runtimeImports(f, readFileSync(f, 'utf8'))]));
const rel = (f: string) => relative(SRC, f);
const isBase = (f: string) => /^(store|config|util)\/|^(model|errors)\.ts$/.test(f);

describe('the module graph of src/', () => {
  it('has no runtime import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      path.push(f);
      for (const g of graph.get(f) ?? []) {
        if (!graph.has(g)) continue;
        if (state.get(g) === 'open') cycles.push([...path.slice(path.indexOf(g)), g].map(rel).join(' -> '));
        else if (!state.has(g)) visit(g);
      }
      path.pop();
      state.set(f, 'done');
    };
    for (const f of graph.keys()) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it('keeps guards out of the stages: nothing in src/guards imports src/pipeline/stages', () => {
    const bad = [...graph].flatMap(([f, deps]) =>
      rel(f).startsWith('guards/') ? deps.filter((d) => rel(d).startsWith('pipeline/stages/')).map((d) => `${rel(f)} -> ${rel(d)}`) : [],
    );
    expect(bad).toEqual([]);
  });

  it('keeps the console a reader: src/serve imports no pipeline stage, source, action, CLI or test runner', () => {
    // It explains and changes switches; it never collects facts, runs a stage or acts (docs/console.md).
    const forbidden = ['pipeline/stages/', 'pipeline/run.ts', 'sources/', 'actions/', 'cli/', 'testing/', 'guards/index.ts'];
    const bad = [...graph].flatMap(([f, deps]) =>
      rel(f).startsWith('serve/') ? deps.filter((d) => forbidden.some((x) => rel(d).startsWith(x))).map((d) => `${rel(f)} -> ${rel(d)}`) : [],
    );
    expect(bad).toEqual([]);
    expect([...graph.keys()].some((f) => rel(f).startsWith('serve/'))).toBe(true);
  });

  it('keeps the base layers at the bottom: store, config, model and util import nothing above them', () => {
    // config/ loads and validates the files' shape; judging what they mean (src/check) needs rules, sources and
    // actions, which sit above it, so a semantic check that creeps back into config/ fails here.
    const above = ['cli/', 'pipeline/', 'guards/', 'explain/', 'testing/', 'serve/', 'check/', 'rules/', 'actions/', 'sources/'];
    const bad = [...graph].flatMap(([f, deps]) =>
      isBase(rel(f)) ? deps.filter((d) => above.some((a) => rel(d).startsWith(a))).map((d) => `${rel(f)} -> ${rel(d)}`) : [],
    );
    expect(bad).toEqual([]);
    expect([...graph.keys()].filter((f) => rel(f).startsWith('config/')).length).toBeGreaterThan(0);
  });

  it('sees a cycle when there is one (the checker itself)', () => {
    const a = join(SRC, 'x/a.ts');
    expect(runtimeImports(a, "import { b } from './b.js';\nimport type { T } from './t.js';\nimport { type U } from './u.js';\n")).toEqual([
      join(SRC, 'x/b.ts'),
    ]);
    expect(runtimeImports(a, "const m = await import('./lazy.js');\ntype X = import('./types.js').X;\n")).toEqual([join(SRC, 'x/lazy.ts')]);
  });
});
