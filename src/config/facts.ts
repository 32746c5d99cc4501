// Which facts the sources will provide, known before anything runs: declared by sources, or read from inventory files.
import { relative, resolve } from 'node:path';
import { createSource } from '../sources/index.js';
import { collectAll } from '../sources/collect.js';
import type { Diagnostic } from './diagnostics.js';
import type { Project } from './load.js';

/**
 * The set of fact names rules may read, or null when some source cannot say in advance
 * (then unknown facts are not reported). Inventory files are local, so they are read.
 */
export async function knownFacts(project: Project, diagnostics: Diagnostic[]): Promise<Set<string> | null> {
  const facts = new Set<string>();
  let complete = true;
  const inventories: { src: ReturnType<typeof createSource>; i: number }[] = [];
  for (const [i, cfg] of project.config.sources.entries()) {
    const src = createSource(cfg);
    const declared = src.declaredFacts();
    if (declared) declared.forEach((f) => facts.add(f));
    else if (cfg.kind === 'inventory') inventories.push({ src, i });
    else complete = false;
  }
  if (inventories.length) {
    const r = await collectAll(
      inventories.map((x) => x.src),
      { now: Date.now(), projectDir: project.dir, env: process.env, concurrency: 2, defaultTimeoutMs: 30_000 },
    );
    r.reports.forEach((rep, j) => {
      if (rep.status === 'ok') return;
      // Its facts cannot be known, so no reference to a fact is reported as unknown (one problem, not a cascade).
      complete = false;
      // A mistake inside the inventory file is reported where it is; anything else at the source's path.
      const m = /^(.+?):(\d+):(\d+): (.*)$/s.exec(rep.error ?? '');
      if (m) {
        const file = relative(process.cwd(), resolve(project.dir, m[1]!)) || m[1]!;
        diagnostics.push({ file, line: Number(m[2]), col: Number(m[3]), message: `source "${rep.name}": ${m[4]}`, severity: 'error' });
      } else {
        diagnostics.push(project.configFile.at(['sources', inventories[j]!.i, 'path'], `source "${rep.name}": ${rep.error ?? 'cannot be read'}`));
      }
    });
    for (const t of r.targets) for (const f of Object.keys(t.facts)) facts.add(f);
  }
  return complete ? facts : null;
}
