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
  return (await knownWorld(project, diagnostics)).facts;
}

export interface KnownWorld {
  /** Fact names the sources provide; null when some source cannot say in advance. */
  facts: Set<string> | null;
  /** Target kinds the sources report; null when some source cannot say in advance. */
  kinds: Set<string> | null;
}

/** What the sources will report, as far as can be known before anything runs. */
export async function knownWorld(project: Project, diagnostics: Diagnostic[]): Promise<KnownWorld> {
  if (project.config.sources.length === 0) {
    diagnostics.push(
      project.configFile.at([], 'no sources are configured: no target will be seen and no rule can match (add one under "sources:")', { severity: 'warning' }),
    );
    return { facts: null, kinds: null };
  }
  const facts = new Set<string>();
  const kinds = new Set<string>();
  let complete = true;
  let kindsComplete = true;
  const inventories: { src: ReturnType<typeof createSource>; i: number }[] = [];
  for (const [i, cfg] of project.config.sources.entries()) {
    const src = createSource(cfg);
    const declared = src.declaredFacts();
    if (declared) declared.forEach((f) => facts.add(f));
    else if (cfg.kind !== 'inventory') complete = false;
    if (cfg.kind === 'inventory') inventories.push({ src, i });
    else {
      // A mapped source reports the kind its mapping names; without one, the kind is not known here.
      const mapped =
        cfg.kind === 'prometheus' ? cfg.queries.map((q) => q.target?.kind ?? cfg.target?.kind) : cfg.kind === 'command' ? [undefined] : [cfg.target?.kind];
      for (const k of mapped) {
        if (k) kinds.add(k);
        else kindsComplete = false;
      }
    }
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
      kindsComplete = false;
      // A mistake inside the inventory file is reported where it is; anything else at the source's path.
      const m = /^(.+?):(\d+):(\d+): (.*)$/s.exec(rep.error ?? '');
      if (m) {
        const file = relative(process.cwd(), resolve(project.dir, m[1]!)) || m[1]!;
        diagnostics.push({ file, line: Number(m[2]), col: Number(m[3]), message: `source "${rep.name}": ${m[4]}`, severity: 'error' });
      } else {
        diagnostics.push(project.configFile.at(['sources', inventories[j]!.i, 'path'], `source "${rep.name}": ${rep.error ?? 'cannot be read'}`));
      }
    });
    // Inventories with no targets at all (everything decommissioned, a file not filled yet) say nothing about which
    // facts exist: a run must not be refused because the fleet is empty.
    if (r.targets.length === 0) {
      complete = false;
      kindsComplete = false;
    }
    for (const t of r.targets) {
      kinds.add(t.kind);
      for (const f of Object.keys(t.facts)) facts.add(f);
    }
  }
  return { facts: complete ? facts : null, kinds: kindsComplete ? kinds : null };
}
