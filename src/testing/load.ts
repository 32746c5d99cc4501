// Loads scenario files in layers (YAML with positions, schema, then references to the project under test) into runnable plans.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { didYouMean, type Diagnostic, type SourceFile } from '../config/diagnostics.js';
import { expandGlob, isTestFile, loadProject, type Project } from '../config/load.js';
import { parseYamlFile, validate } from '../config/yaml.js';
import { REASON } from '../pipeline/reasons.js';
import { groupTargets } from '../rules/groups.js';
import { buildRuleSet, type CompiledRule, type RuleSet } from '../rules/ruleset.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import {
  ScenarioFile,
  type DisableConfig,
  type EnableConfig,
  type ScenarioConfig,
  type ScenarioFileConfig,
  type StepConfig,
  type TargetConfig,
} from './schema.js';

/** Where the synthetic clock starts unless a file or scenario says otherwise: a fixed time, so output is stable. */
export const DEFAULT_START = Date.parse('2026-01-01T00:00:00Z');

/** A configuration under test, loaded once however many scenario files test it. */
export interface ProjectEntry {
  configPath: string;
  project?: Project;
  /** Every rule of the configuration. */
  ruleSet?: RuleSet;
  /** Problems of the configuration itself (reported once, like `reflex check` would). */
  diagnostics: Diagnostic[];
}

export interface PlannedStep {
  index: number;
  /** Milliseconds after the scenario's start. */
  at: number;
  config: StepConfig;
  path: PropertyKey[];
}

export interface PlannedScenario {
  index: number;
  name: string;
  config: ScenarioConfig;
  path: PropertyKey[];
  start: number;
  targets: TargetConfig[];
  /** The rules under test, with modes as the scenario wants them. */
  ruleSet: RuleSet;
  steps: PlannedStep[];
}

export interface LoadedTestFile {
  /** As shown in messages (relative to the working directory). */
  shown: string;
  file: SourceFile;
  config: ScenarioFileConfig;
  entry: ProjectEntry & { project: Project; ruleSet: RuleSet };
  scenarios: PlannedScenario[];
}

export interface LoadedTests {
  files: LoadedTestFile[];
  /** Scenario files that could not be loaded, with why. */
  invalid: { shown: string; diagnostics: Diagnostic[] }[];
  /** Every problem: errors make `reflex test` exit 2; warnings are shown. */
  diagnostics: Diagnostic[];
  projects: Map<string, ProjectEntry>;
}

const shownPath = (p: string, cwd: string) => relative(cwd, p) || p;

/** The scenario files of a project: `tests:` of reflex.yaml, or the `*_test.yaml` files beside its rule files. */
export function testFilesOf(project: Project): { files: string[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const { config, dir } = project;
  const out = new Set<string>();
  if (config.tests) {
    config.tests.forEach((pattern, i) => {
      const files = expandGlob(dir, pattern);
      if (files.length === 0) diagnostics.push(project.configFile.at(['tests', i], `no scenario files match "${pattern}"`, { severity: 'warning' }));
      files.forEach((f) => out.add(f));
    });
  } else {
    for (const pattern of [...config.rules, 'rules/*_test.yaml', 'rules/*_test.yml']) {
      for (const f of expandGlob(dir, pattern)) if (isTestFile(f)) out.add(f);
    }
    // An explicitly listed rules/restart.yaml has its scenarios in rules/restart_test.yaml.
    for (const f of project.ruleFiles) {
      const t = f.replace(/\.ya?ml$/, '_test.yaml');
      if (t !== f && existsSync(t)) out.add(t);
    }
  }
  return { files: [...out].sort(), diagnostics };
}

/** The nearest reflex.yaml in the file's folder or above it. */
export function nearestConfig(fromDir: string): string | null {
  let d = resolve(fromDir);
  for (;;) {
    const p = join(d, 'reflex.yaml');
    if (existsSync(p)) return p;
    const up = dirname(d);
    if (up === d) return null;
    d = up;
  }
}

/** Load (or reuse) a configuration and compile all its rules. */
export function loadEntry(configPath: string, projects: Map<string, ProjectEntry>): ProjectEntry {
  let e = projects.get(configPath);
  if (e) return e;
  const loaded = loadProject(configPath);
  e = { configPath, diagnostics: [...loaded.diagnostics] };
  if (loaded.project) {
    const built = buildRuleSet(loaded.project);
    e.diagnostics.push(...built.diagnostics);
    if (built.ruleSet) {
      e.project = loaded.project;
      e.ruleSet = built.ruleSet;
    }
  }
  projects.set(configPath, e);
  return e;
}

/** A rule set with every rule in enforce mode: what the rules would do once promoted. */
export function enforced(rs: RuleSet): RuleSet {
  const rules = rs.rules.map((r) => (r.mode === 'enforce' ? r : { ...r, mode: 'enforce' as const }));
  const byKind = new Map<string, CompiledRule[]>();
  for (const r of rules) {
    if (r.derive) continue;
    let list = byKind.get(r.kind);
    if (!list) byKind.set(r.kind, (list = []));
    list.push(r);
  }
  return { ...rs, rules, byKind };
}

/** Load scenario files; every problem is a diagnostic with file:line:col, and the valid files still run. */
export function loadTests(
  paths: string[],
  opts: {
    cwd?: string;
    projects?: Map<string, ProjectEntry> /** For files without `config:` (default: the nearest reflex.yaml). */;
    defaultConfig?: string;
  } = {},
): LoadedTests {
  const cwd = opts.cwd ?? process.cwd();
  const projects = opts.projects ?? new Map<string, ProjectEntry>();
  const out: LoadedTests = { files: [], invalid: [], diagnostics: [], projects };
  const reported = new Set<string>();
  for (const p of paths) {
    const abs = resolve(cwd, p);
    const shown = shownPath(abs, cwd);
    const diags: Diagnostic[] = [];
    const loaded = loadOne(abs, shown, cwd, projects, diags, reported, opts.defaultConfig);
    out.diagnostics.push(...diags);
    if (loaded && !diags.some((d) => d.severity === 'error')) out.files.push(loaded);
    else out.invalid.push({ shown, diagnostics: diags });
  }
  return out;
}

function loadOne(
  abs: string,
  shown: string,
  cwd: string,
  projects: Map<string, ProjectEntry>,
  diags: Diagnostic[],
  reported: Set<string>,
  defaultConfig: string | undefined,
): LoadedTestFile | null {
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    diags.push({ file: shown, line: 0, col: 0, severity: 'error', message: 'is a folder: name scenario files (rules/*_test.yaml)' });
    return null;
  }
  const parsed = parseYamlFile(shown, existsSync(abs) ? readFileSync(abs, 'utf8') : undefined);
  diags.push(...parsed.diagnostics);
  if (parsed.fatal) return null;
  const file = parsed.file;
  const data = file.doc.toJS() ?? {};
  const v = validate(ScenarioFile, data, file, 'the scenario file');
  diags.push(...v.diagnostics);
  if (!v.value) return null;
  const config = v.value;

  // ---- the configuration under test
  const dir = dirname(abs);
  let configPath: string | null;
  if (config.config) {
    configPath = resolve(dir, config.config);
    if (existsSync(configPath) && statSync(configPath).isDirectory()) configPath = join(configPath, 'reflex.yaml');
    if (!existsSync(configPath)) {
      diags.push(file.at(['config'], `no configuration at ${shownPath(configPath, cwd)}`));
      return null;
    }
  } else {
    configPath = defaultConfig ?? nearestConfig(dir);
    if (!configPath) {
      diags.push(file.at([], 'no reflex.yaml in this folder or above it: name the configuration under test with "config:"'));
      return null;
    }
  }
  const entry = loadEntry(configPath, projects);
  if (!reported.has(configPath)) {
    reported.add(configPath);
    diags.push(...entry.diagnostics);
  }
  if (!entry.project || !entry.ruleSet) {
    diags.push(
      file.at(
        config.config ? ['config'] : [],
        `the configuration under test (${shownPath(configPath, cwd)}) is invalid: see the problems above, or run \`reflex check\``,
      ),
    );
    return null;
  }
  const project = entry.project;

  // ---- the rules under test
  let ruleSet = entry.ruleSet;
  if (config.rule_files) {
    const wanted = new Set<string>();
    config.rule_files.forEach((rf, i) => {
      const full = resolve(dir, rf);
      if (!project.ruleFiles.includes(full)) {
        const known = project.ruleFiles.map((f) => relative(dir, f));
        diags.push(
          file.at(
            ['rule_files', i],
            `"${rf}" is not a rule file of ${shownPath(configPath!, cwd)}${didYouMean(rf, known) || ` (its rule files: ${known.join(', ') || 'none'})`}`,
          ),
        );
      } else wanted.add(shownPath(full, process.cwd()));
    });
    const rules = project.rules.filter((r) => wanted.has(r.loc.file.path));
    const built = buildRuleSet({ ...project, rules });
    if (!built.ruleSet) {
      diags.push(...built.diagnostics.filter((d) => d.severity === 'error'));
      return null;
    }
    ruleSet = built.ruleSet;
  }

  const ctx = new Checker(file, project, entry.ruleSet, ruleSet, diags);
  const interval = parseDuration(config.interval);
  const fileStart = ctx.start(config.start, ['start'], DEFAULT_START);
  const scenarios: PlannedScenario[] = [];
  const names = new Map<string, number>();
  config.scenarios.forEach((sc, i) => {
    const path: PropertyKey[] = ['scenarios', i];
    const first = names.get(sc.name);
    if (first !== undefined)
      diags.push(file.at([...path, 'name'], `duplicate scenario name "${sc.name}" (first at line ${file.at(['scenarios', first, 'name'], '').line})`));
    else names.set(sc.name, i);
    const planned = ctx.scenario(sc, path, fileStart, sc.interval ? parseDuration(sc.interval) : interval, config.targets);
    if (planned) scenarios.push({ ...planned, index: i, name: sc.name, config: sc, path, ruleSet: sc.mode === 'enforce' ? enforced(ruleSet) : ruleSet });
  });
  return { shown, file, config, entry: entry as LoadedTestFile['entry'], scenarios };
}

const KNOWN_REASONS: string[] = Object.values(REASON);
const ACTING = new Set(['executed', 'failed', 'dry_run', 'interrupted']);

/** Semantic checks of one scenario file against the project under test: names, targets, times. */
class Checker {
  private readonly rulesUnderTest: Map<string, CompiledRule>;
  private readonly allRules: Set<string>;
  private readonly facts: Set<string>;
  constructor(
    private readonly file: SourceFile,
    private readonly project: Project,
    all: RuleSet,
    underTest: RuleSet,
    private readonly diags: Diagnostic[],
  ) {
    this.rulesUnderTest = new Map(underTest.rules.map((r) => [r.name, r]));
    this.allRules = new Set(all.rules.map((r) => r.name));
    this.facts = new Set<string>();
    for (const r of all.rules) {
      r.refs.facts.forEach((f) => this.facts.add(f));
      if (r.derive) this.facts.add(r.derive);
    }
    for (const a of all.aggregates.values()) a.refs.facts.forEach((f) => this.facts.add(f));
  }

  private err(path: PropertyKey[], message: string, key = false): void {
    this.diags.push(this.file.at(path, message, { key }));
  }
  private warn(path: PropertyKey[], message: string, key = false): void {
    this.diags.push(this.file.at(path, message, { key, severity: 'warning' }));
  }

  start(text: string | undefined, path: PropertyKey[], dflt: number): number {
    if (text === undefined) return dflt;
    const t = Date.parse(text);
    if (Number.isNaN(t) || !/^\d{4}-\d\d-\d\d/.test(text)) {
      this.err(path, `"${text}" is not a time: write an ISO time such as 2026-01-01T09:00:00Z`);
      return dflt;
    }
    return t;
  }

  scenario(sc: ScenarioConfig, path: PropertyKey[], fileStart: number, interval: number, fileTargets: TargetConfig[] | undefined) {
    const start = this.start(sc.start, [...path, 'start'], fileStart);
    const targets = sc.targets ?? fileTargets;
    if (!targets || targets.length === 0) {
      this.err(path, `scenario "${sc.name}" has no targets: list them under "targets:" in the scenario or at the top of the file`);
      return null;
    }
    const targetsPath = sc.targets ? [...path, 'targets'] : ['targets'];
    const ids = new Map<string, TargetConfig>();
    targets.forEach((t, i) => {
      if (ids.has(t.id)) this.err([...targetsPath, i, 'id'], `duplicate target id "${t.id}"`);
      ids.set(t.id, t);
    });
    // The group targets the run will make of these (region/eu-west-1) are the scenario's too: expectations name them.
    if (this.project.groups.length) {
      const made = groupTargets(
        this.project.groups,
        targets.map((t) => ({ id: t.id, kind: t.kind, labels: t.labels ?? {}, depends_on: [], facts: {} })),
      );
      for (const g of made.targets) ids.set(g.id, { id: g.id, kind: g.kind, labels: g.labels });
    }
    targets.forEach((t, i) => {
      (t.depends_on ?? []).forEach((d, j) => {
        if (!ids.has(d))
          this.warn(
            [...targetsPath, i, 'depends_on', j],
            `"${t.id}" depends on "${d}", which is not a target of this scenario (its facts will be unknown)${didYouMean(d, ids.keys())}`,
          );
      });
      this.factNames(t.facts ?? {}, [...targetsPath, i, 'facts']);
    });

    const s = sc.state;
    if (s) {
      (s.disables ?? []).forEach((d, i) => this.disable(d, [...path, 'state', 'disables', i], ids));
      (s.cooldowns ?? []).forEach((c, i) => {
        const p = [...path, 'state', 'cooldowns', i];
        const r = this.actingRule(c.rule, [...p, 'rule']);
        this.target(c.target, [...p, 'target'], ids);
        if (r && c.action) this.ruleAction(r, c.action, [...p, 'action']);
        if (c.ago && c.left) this.err(p, 'give "ago" (when the action ran) or "left" (how much cooldown remains), not both');
      });
      (s.executions ?? []).forEach((x, i) => {
        const p = [...path, 'state', 'executions', i];
        const r = this.actingRule(x.rule, [...p, 'rule']);
        this.target(x.target, [...p, 'target'], ids);
        if (r && x.action) this.ruleAction(r, x.action, [...p, 'action']);
      });
    }
    if (sc.actions) this.actionScript(sc.actions, [...path, 'actions'], ids);

    const steps: PlannedStep[] = [];
    let prev = -1;
    sc.steps.forEach((st, i) => {
      const p = [...path, 'steps', i];
      let at: number;
      if (st.at !== undefined && st.run !== undefined) this.err(p, 'give "at" (a time) or "run" (a run number), not both');
      if (st.at !== undefined) at = parseDuration(st.at);
      else if (st.run !== undefined) at = (st.run - 1) * interval;
      else at = i === 0 ? 0 : prev + interval;
      if (at < prev) {
        const field = st.at !== undefined ? 'at' : 'run';
        this.err([...p, field], `step ${i + 1} would run before step ${i} (${fmt(at)} < ${fmt(prev)}): steps run in time order`);
      }
      prev = Math.max(prev, at);
      this.step(st, p, ids);
      steps.push({ index: i, at, config: st, path: p });
    });
    return { start, targets, steps };
  }

  private step(st: StepConfig, p: PropertyKey[], ids: Map<string, TargetConfig>): void {
    for (const [t, facts] of Object.entries(st.facts ?? {})) {
      if (this.target(t, [...p, 'facts', t], ids, true)) this.factNames(facts, [...p, 'facts', t]);
    }
    for (const [t, facts] of Object.entries(st.unknown ?? {})) {
      if (this.target(t, [...p, 'unknown', t], ids, true)) {
        facts.forEach((f, i) => {
          const dym = this.facts.has(f) ? '' : didYouMean(f, this.facts);
          if (dym) this.warn([...p, 'unknown', t, i], `no rule reads fact "${f}"${dym}`);
        });
      }
    }
    const sources = this.project.config.sources.map((s) => s.name);
    (st.source_down ?? []).forEach((s, i) => {
      if (!sources.includes(s))
        this.err([...p, 'source_down', i], `unknown source "${s}"${didYouMean(s, sources) || ` (sources: ${sources.join(', ') || 'none'})`}`);
    });
    if (st.actions) this.actionScript(st.actions, [...p, 'actions'], ids);
    const channels = Object.keys(this.project.config.channels);
    for (const c of Object.keys(st.channels ?? {})) {
      if (!channels.includes(c)) this.err([...p, 'channels', c], `unknown channel "${c}"${didYouMean(c, channels)}`, true);
    }
    (st.disable ?? []).forEach((d, i) => this.disable(d, [...p, 'disable', i], ids));
    (st.enable ?? []).forEach((d, i) => {
      // rule and target together: let the rule act again where an earlier action did not help (verify:).
      if (d.rule !== undefined && d.target !== undefined && d.action === undefined && d.selector === undefined) {
        this.ruleUnderTest(d.rule, [...p, 'enable', i, 'rule']);
        this.target(d.target, [...p, 'enable', i, 'target'], ids);
      } else this.disable(d, [...p, 'enable', i], ids);
    });
    for (const k of ['approve', 'reject'] as const) {
      (st[k] ?? []).forEach((a, i) => {
        const ap = [...p, k, i];
        const r = this.actingRule(a.rule, [...ap, 'rule']);
        if (r && !r.approval) this.err([...ap, 'rule'], `rule "${r.name}" never asks for approval (give it mode: approve or approval: {on: [...]})`);
        this.target(a.target, [...ap, 'target'], ids);
        if (k === 'reject' && a.expires !== undefined) this.err([...ap, 'expires'], '"expires" is for approve only');
      });
    }

    let acting = false;
    (st.expect ?? []).forEach((e, i) => {
      const ep = [...p, 'expect', i];
      const r = this.ruleUnderTest(e.rule, [...ep, 'rule']);
      const targets = Array.isArray(e.target) ? e.target : [e.target];
      targets.forEach((t, j) => {
        const tp = Array.isArray(e.target) ? [...ep, 'target', j] : [...ep, 'target'];
        const def = this.target(t, tp, ids);
        if (r && def && def.kind !== r.kind) this.err(tp, `rule "${r.name}" is for targets of kind ${r.kind}; "${t}" is a ${def.kind}`);
      });
      if (ACTING.has(e.outcome)) acting = true;
      if (r && e.action) this.ruleAction(r, e.action, [...ep, 'action']);
      if (e.reason !== undefined && !KNOWN_REASONS.includes(e.reason)) {
        this.warn(
          [...ep, 'reason'],
          `"${e.reason}" is not a reason Reflex names${didYouMean(e.reason, KNOWN_REASONS)} (this expectation can only pass if a stage uses it)`,
        );
      }
      if (typeof e.escalated === 'string' && !this.project.config.channels[e.escalated]) {
        this.err([...ep, 'escalated'], `unknown channel "${e.escalated}"${didYouMean(e.escalated, Object.keys(this.project.config.channels))}`);
      }
      if (r && e.value !== undefined && !r.derive) this.err([...ep, 'value'], `rule "${r.name}" does not derive a fact: "value" is for derive rules`);
      if (r && e.verification !== undefined && !r.verify) this.err([...ep, 'verification'], `rule "${r.name}" has no "verify:": nothing is verified`);
      if (r && e.approval !== undefined && !r.approval) this.err([...ep, 'approval'], `rule "${r.name}" never asks for approval`);
    });
    if (st.no_action && acting) this.err([...p, 'no_action'], '"no_action: true" contradicts an expectation of this step that acts');
    (st.escalations ?? []).forEach((e, i) => {
      const ep = [...p, 'escalations', i];
      if (e.to && !this.project.config.channels[e.to])
        this.err([...ep, 'to'], `unknown channel "${e.to}"${didYouMean(e.to, Object.keys(this.project.config.channels))}`);
      if (e.rule && !this.allRules.has(e.rule)) this.err([...ep, 'rule'], `unknown rule "${e.rule}"${didYouMean(e.rule, this.allRules)}`);
      if (e.target) this.target(e.target, [...ep, 'target'], ids);
    });
  }

  private target(id: string, path: PropertyKey[], ids: Map<string, TargetConfig>, key = false): TargetConfig | undefined {
    const t = ids.get(id);
    if (!t) this.err(path, `unknown target "${id}"${didYouMean(id, ids.keys()) || ` (targets: ${[...ids.keys()].slice(0, 10).join(', ')})`}`, key);
    return t;
  }

  private factNames(facts: Record<string, unknown>, path: PropertyKey[]): void {
    for (const f of Object.keys(facts)) {
      if (this.facts.has(f)) continue;
      const dym = didYouMean(f, this.facts);
      if (dym) this.warn([...path, f], `no rule reads fact "${f}"${dym}`, true);
    }
  }

  private ruleUnderTest(name: string, path: PropertyKey[]): CompiledRule | undefined {
    const r = this.rulesUnderTest.get(name);
    if (r) return r;
    if (this.allRules.has(name)) this.err(path, `rule "${name}" is not in this file's rule_files`);
    else this.err(path, `unknown rule "${name}"${didYouMean(name, this.rulesUnderTest.keys()) || ` (rules: ${[...this.rulesUnderTest.keys()].join(', ')})`}`);
    return undefined;
  }

  private actingRule(name: string, path: PropertyKey[]): CompiledRule | undefined {
    const r = this.ruleUnderTest(name, path);
    if (r && r.steps.length === 0) this.err(path, `rule "${name}" has no actions ("do:")`);
    return r?.steps.length ? r : undefined;
  }

  private ruleAction(r: CompiledRule, action: string, path: PropertyKey[]): void {
    const acts = r.steps.map((s) => s.action);
    if (!acts.includes(action))
      this.err(path, `rule "${r.name}" does not run action "${action}"${didYouMean(action, acts) || ` (its actions: ${acts.join(', ') || 'none'})`}`);
  }

  private actionScript(script: Record<string, string>, path: PropertyKey[], ids: Map<string, TargetConfig>): void {
    const actions = Object.keys(this.project.config.actions);
    for (const key of Object.keys(script)) {
      const parts = key.split('/');
      const p = [...path, key];
      if (parts.length > 3 || parts.some((x) => x === '')) {
        this.err(p, `"${key}": name an action, ACTION/TARGET, or RULE/ACTION/TARGET`, true);
        continue;
      }
      const [rule, action, target] = parts.length === 3 ? parts : [undefined, parts[0]!, parts[1]];
      if (!actions.includes(action!)) this.err(p, `unknown action "${action}"${didYouMean(action!, actions)}`, true);
      if (target !== undefined && !ids.has(target)) this.err(p, `unknown target "${target}"${didYouMean(target, ids.keys())}`, true);
      if (rule !== undefined && !this.allRules.has(rule)) this.err(p, `unknown rule "${rule}"${didYouMean(rule, this.allRules)}`, true);
    }
  }

  private disable(d: DisableConfig | EnableConfig, path: PropertyKey[], ids: Map<string, TargetConfig>): void {
    const given = (['rule', 'action', 'target', 'selector'] as const).filter((k) => d[k] !== undefined);
    if (given.length !== 1) {
      this.err(path, given.length ? `give one of rule, action, target or selector, not ${given.join(' and ')}` : 'name what: rule, action, target or selector');
      return;
    }
    if (d.rule !== undefined && !this.allRules.has(d.rule)) this.err([...path, 'rule'], `unknown rule "${d.rule}"${didYouMean(d.rule, this.allRules)}`);
    const actions = Object.keys(this.project.config.actions);
    if (d.action !== undefined && !actions.includes(d.action)) this.err([...path, 'action'], `unknown action "${d.action}"${didYouMean(d.action, actions)}`);
    if (d.target !== undefined) this.target(d.target, [...path, 'target'], ids);
    if (d.selector !== undefined && Object.keys(d.selector).length === 0)
      this.err([...path, 'selector'], 'an empty selector would match every target: name labels');
  }
}

/** A step's time for messages: 0s, 10m, 1h30m. */
export function fmt(ms: number): string {
  return ms === 0 ? '0s' : formatDuration(ms);
}
