// The semantic checks of `reflex check`, past the schema: expressions, references, facts, templates, selectors.
import { checkAction } from '../actions/index.js';
import { paramPattern } from '../actions/params.js';
import { templateRefs } from '../actions/template.js';
import { buildRuleSet, type RuleSet } from '../rules/ruleset.js';
import { storeProblems } from '../store/index.js';
import { didYouMean, type Diagnostic } from '../config/diagnostics.js';
import { loadProject, type Broken, type LoadedRule, type Project } from '../config/load.js';
import { knownWorld } from './facts.js';
import { checkFactTypes } from './fact-types.js';
import type { SourceFile } from '../config/diagnostics.js';

export interface CheckResult {
  diagnostics: Diagnostic[];
  /** The compiled rules, when they compiled: commands that act use these, so they run exactly what was checked. */
  ruleSet?: RuleSet;
  rules: number;
  aggregates: number;
  sources: number;
  actions: number;
  channels: number;
}

/**
 * Run every check on a loaded project. `broken` names entries that failed to load, so references to them are not
 * reported twice. This is the one validation path: `reflex check`, and every command that loads a project to act on
 * it or explain it (cli/project.ts, `reflex test`), refuse what it reports as an error.
 * `requireTests: false` leaves out `guardrails.require_tests` (for `reflex test`, which runs those scenarios itself).
 */
export async function checkProject(project: Project, broken?: Broken, opts: { requireTests?: boolean } = {}): Promise<CheckResult> {
  const diagnostics: Diagnostic[] = [];
  const { facts, kinds, types } = await knownWorld(project, diagnostics);
  if (facts && broken) broken.facts.forEach((f) => facts.add(f));
  if (kinds) diagnostics.push(...checkKinds(project, kinds, broken));
  const built = buildRuleSet(project, { knownFacts: facts, broken });
  diagnostics.push(...built.diagnostics);
  if (built.ruleSet) diagnostics.push(...checkGroupReads(built.ruleSet));
  // Types known before running (declared `type:`, inventory values): a type mismatch is a mistake now, not an unknown every run.
  diagnostics.push(...checkFactTypes(project, types));
  diagnostics.push(...checkConfig(project));
  diagnostics.push(...checkRules(project, facts));
  // guardrails.require_tests: only rules with a passing scenario may be enforced (reflex test's module runs them).
  if (project.config.guardrails.require_tests && !broken && opts.requireTests !== false)
    diagnostics.push(...(await (await import('../testing/coverage.js')).requiredTests(project)));
  return {
    diagnostics: dedupe(diagnostics),
    ruleSet: built.ruleSet,
    rules: project.rules.length,
    aggregates: project.aggregates.length,
    sources: project.config.sources.length,
    actions: Object.keys(project.config.actions).length,
    channels: Object.keys(project.config.channels).length,
  };
}

/**
 * `reflex check` of one configuration file, as every command applies it: load in layers, then every semantic check
 * (a project with broken entries is still checked, so one pass reports every problem). `project` is set only when
 * the configuration loaded whole; `errors` counts the diagnostics that refuse it.
 */
export async function checkConfigFile(
  configPath: string,
  opts: { requireTests?: boolean } = {},
): Promise<{ project?: Project; result?: CheckResult; diagnostics: Diagnostic[]; errors: number }> {
  const { project, partial, diagnostics } = loadProject(configPath);
  const all = [...diagnostics];
  const loaded = project ?? partial;
  const result = loaded ? await checkProject(loaded, partial?.broken, opts) : undefined;
  if (result) all.push(...result.diagnostics);
  const sorted = sortDiagnostics(all);
  return { project, result, diagnostics: sorted, errors: sorted.filter((d) => d.severity === 'error').length };
}

/** Sort by file, line and column (the order people read in), dropping exact repeats. */
export function sortDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  return dedupe(diags).sort((a, b) => (a.file === b.file ? a.line - b.line || a.col - b.col : a.file < b.file ? -1 : 1));
}

function dedupe(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diags.filter((d) => {
    const k = `${d.file}:${d.line}:${d.col}:${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---------------------------------------------------------------- templates

const SCOPES = ['target', 'labels', 'facts', 'params', 'rule'];

interface Placeholder {
  /** Offset of `{{` in the value. */
  at: number;
  source: string;
  ref?: string;
  problem?: string;
}

/** The placeholders of a template, each with its offset and, when malformed, what is wrong (with a suggestion). */
export function scanTemplate(text: string): Placeholder[] {
  const out: Placeholder[] = [];
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('\\{{', i)) {
      i += 3;
      continue;
    }
    if (!text.startsWith('{{', i)) {
      i++;
      continue;
    }
    const end = text.indexOf('}}', i + 2);
    if (end < 0) {
      out.push({ at: i, source: text.slice(i), problem: 'unclosed placeholder "{{" (close it with "}}", or write \\{{ for a literal "{{")' });
      break;
    }
    const source = text.slice(i, end + 2);
    const ref = text.slice(i + 2, end).trim();
    const root = ref.split('.')[0]!;
    let problem: string | undefined;
    if (/^[A-Za-z_][A-Za-z0-9_]*\./.test(ref) && !SCOPES.includes(root)) {
      const dym = didYouMean(root, SCOPES);
      problem = `${source}: unknown scope "${root}"${dym || ` (placeholders start with ${SCOPES.join('., ')}.)`}`;
    } else {
      try {
        templateRefs(source);
      } catch (err) {
        problem = (err as Error).message;
      }
    }
    out.push({ at: i, source, ref, problem });
    i = end + 2;
  }
  return out;
}

type At = (path: PropertyKey[], message: string, valueOffset?: number) => void;

function positioned(file: SourceFile, base: PropertyKey[], out: Diagnostic[]): At {
  return (path, message, valueOffset) => out.push(file.at([...base, ...path], message, { valueOffset }));
}

// ---------------------------------------------------------------- reflex.yaml

function checkConfig(project: Project): Diagnostic[] {
  const out: Diagnostic[] = [];
  const { config, configFile } = project;
  const at = positioned(configFile, [], out);
  const channels = Object.keys(config.channels);

  // The store: a place that cannot work is reported here, not found by a run that hangs on it (store/index.ts).
  for (const p of storeProblems(config.store, project.dir)) out.push(configFile.at(['store'], p.message, { severity: p.severity }));
  const runTimeout = config.defaults.run_timeout;
  if (runTimeout && /^(0+(\.0+)?(ms|s|m|h|d))+$/.test(runTimeout))
    at(['defaults', 'run_timeout'], `a run timeout of ${runTimeout} would stop every run before it acts`);

  const esc = config.defaults.escalate_to;
  if (esc && !config.channels[esc])
    at(['defaults', 'escalate_to'], `unknown channel "${esc}"${didYouMean(esc, channels)}${channels.length ? '' : ' (declare channels under "channels:")'}`);

  const sourceNames = new Map<string, number>();
  config.sources.forEach((s, i) => {
    const first = sourceNames.get(s.name);
    if (first !== undefined) {
      at(
        ['sources', i, 'name'],
        `duplicate source name "${s.name}" (first at line ${configFile.at(['sources', first, 'name'], '').line}): facts would not say where they came from`,
      );
    } else sourceNames.set(s.name, i);
    if (s.timeout && /^0+(\.0+)?(ms|s|m|h|d)$/.test(s.timeout)) at(['sources', i, 'timeout'], `a timeout of ${s.timeout} would fail the source every run`);
  });

  for (const [name, action] of Object.entries(config.actions)) {
    const base = ['actions', name];
    const declared = Object.keys(action.params ?? {});
    const flagged = new Set<string>();
    const template = (path: PropertyKey[], text: string) => {
      for (const p of scanTemplate(text)) {
        let problem = p.problem;
        if (!problem && p.ref?.startsWith('params.')) {
          const param = p.ref.slice('params.'.length);
          if (!declared.includes(param)) {
            problem = `${p.source}: action "${name}" declares no param "${param}"${didYouMean(param, declared) || ' (declare it under "params:")'}`;
          }
        }
        if (problem) {
          at([...base, ...path], `action "${name}": ${problem}`, p.at);
          flagged.add(path.join('.'));
        }
      }
    };
    if (action.timeout && /^0+(\.0+)?(ms|s|m|h|d)$/.test(action.timeout))
      at([...base, 'timeout'], `action "${name}": a timeout of ${action.timeout} would stop it at once`);
    if (action.kind === 'exec') action.argv.forEach((a, i) => template(['argv', i], a));
    else {
      template(['url'], action.url);
      for (const [h, v] of Object.entries(action.headers ?? {})) template(['headers', h], v);
      const walk = (v: unknown, path: PropertyKey[]): void => {
        if (typeof v === 'string') template(path, v);
        else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
        else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
      };
      walk(action.body, ['body']);
    }
    // The actions' own static checks (patterns, the program and host written literally, a GET with a body);
    // template problems were reported above with their column.
    for (const msg of checkAction(name, action)) {
      const w = whereInAction(msg, name);
      if (w.path && flagged.has(w.path.join('.'))) continue;
      at([...base, ...(w.path ?? [])], `action "${name}": ${w.message}`);
    }
  }
  return out;
}

/** Turn checkAction's "action NAME, WHERE: message" into a path inside the action. */
function whereInAction(msg: string, name: string): { path?: PropertyKey[]; message: string } {
  const prefix = `action ${name}`;
  if (!msg.startsWith(prefix)) return { message: msg };
  const rest = msg.slice(prefix.length);
  if (rest.startsWith(': ')) {
    const m = rest.slice(2);
    if (/^url\b/.test(m)) return { path: ['url'], message: m };
    if (/body/.test(m)) return { path: ['body'], message: m };
    if (/header/i.test(m)) return { path: ['headers'], message: m };
    return { message: m };
  }
  const m = /^, ([^:]+): (.*)$/s.exec(rest);
  if (!m) return { message: rest.replace(/^[,:]\s*/, '') };
  const where = m[1]!;
  let path: PropertyKey[] | undefined;
  let x: RegExpExecArray | null;
  if ((x = /^argv\[(\d+)\]$/.exec(where))) path = ['argv', Number(x[1])];
  else if (where === 'url') path = ['url'];
  else if ((x = /^header (.+)$/.exec(where))) path = ['headers', x[1]!];
  else if ((x = /^param (.+)$/.exec(where))) path = ['params', x[1]!, 'pattern'];
  else if (where.startsWith('body')) {
    path = ['body'];
    for (const seg of where.slice(4).matchAll(/\.([^.[]+)|\[(\d+)\]/g)) path.push(seg[1] ?? Number(seg[2]));
  }
  return { path, message: path ? m[2]! : `${where}: ${m[2]}` };
}

// ---------------------------------------------------------------- rules

function checkRules(project: Project, facts: Set<string> | null): Diagnostic[] {
  const out: Diagnostic[] = [];
  const { config } = project;
  for (const r of project.rules) {
    const at = positioned(r.loc.file, r.loc.path, out);
    checkSelector(r, at);
    if (r.for) {
      const m = /^(\d+) runs?$/.exec(r.for);
      if (m && Number(m[1]) < 1) at(['for'], `rule "${r.name}": "for: ${r.for}" must be at least 1 run`);
    }
    const template = (path: PropertyKey[], text: string, what: string, allowParams: boolean) => {
      for (const p of scanTemplate(text)) {
        let problem = p.problem;
        if (!problem && p.ref) {
          const [root, name] = p.ref.split('.');
          if (root === 'params' && !allowParams) problem = `${p.source}: ${what} may not refer to params (they are what it sets)`;
          else if (root === 'facts' && facts && name && !facts.has(name) && !derivedBy(project, name)) {
            problem = `${p.source}: unknown fact "${name}"${didYouMean(name, facts)} (no source provides it and no rule derives it)`;
          }
        }
        if (problem) at(path, `rule "${r.name}", ${what}: ${problem}`, p.at);
      }
    };
    (r.do ?? []).forEach((s, i) => {
      const action = config.actions[s.action];
      for (const [k, v] of Object.entries(s.with ?? {})) {
        template(['do', i, 'with', k], v, `with.${k}`, false);
        // A literal value can be checked against the param's pattern now rather than at run time.
        const pattern = action?.params?.[k]?.pattern;
        if (pattern !== undefined && !v.includes('{{')) {
          let re: { test(value: string): boolean } | undefined;
          try {
            re = paramPattern(pattern);
          } catch {
            /* reported with the action */
          }
          if (re && !re.test(v))
            at(['do', i, 'with', k], `rule "${r.name}": with.${k} = "${v}" does not match the pattern /${pattern}/ of action "${s.action}"`);
        }
      }
    });
    if (r.escalate && typeof r.escalate === 'object' && r.escalate.summary) template(['escalate', 'summary'], r.escalate.summary, 'summary', false);
  }
  return out;
}

/**
 * A rule or aggregate for a kind that no source reports and no group makes can never match: a typo, most often.
 * A group must be made of a kind the sources report, and its own kind must be one they do not.
 */
function checkKinds(project: Project, reported: Set<string>, broken?: Broken): Diagnostic[] {
  const out: Diagnostic[] = [];
  const sourceKinds = [...reported].sort();
  for (const g of project.groups) {
    if (!reported.has(g.of))
      out.push(
        g.loc.file.at(
          [...g.loc.path, 'of'],
          `group "${g.kind}" has no members: no source reports targets of kind "${g.of}"${didYouMean(g.of, sourceKinds) || ` (kinds: ${sourceKinds.join(', ') || 'none'})`}`,
        ),
      );
    if (reported.has(g.kind))
      out.push(
        g.loc.file.at(
          [...g.loc.path, 'kind'],
          `group kind "${g.kind}" is a kind a source reports: the group's targets and the reported ones would mix (give the group another kind, e.g. "${g.kind}-group")`,
        ),
      );
  }
  const kinds = new Set([...reported, ...project.groups.map((g) => g.kind), ...(broken?.groups ?? [])]);
  const known = [...kinds].sort();
  const say = (kind: string) =>
    `no source reports targets of kind "${kind}"${project.groups.length ? ' and no group makes them' : ''}${didYouMean(kind, known) || ` (kinds: ${known.join(', ') || 'none'})`}`;
  for (const r of project.rules) {
    if (!kinds.has(r.target.kind))
      out.push(r.loc.file.at([...r.loc.path, 'target', 'kind'], `rule "${r.name}" can never match: ${say(r.target.kind)}`, { severity: 'warning' }));
  }
  for (const a of project.aggregates) {
    if (!kinds.has(a.of)) out.push(a.loc.file.at([...a.loc.path, 'of'], `aggregate "${a.name}" has no members: ${say(a.of)}`, { severity: 'warning' }));
  }
  return out;
}

/**
 * A rule for a group kind that reads an aggregate grouped by a label its group targets do not carry: the
 * aggregate is unknown for every one of them (the group's `by:` and the aggregate's `group_by:` should agree).
 */
function checkGroupReads(ruleSet: RuleSet): Diagnostic[] {
  const out: Diagnostic[] = [];
  const byKind = new Map(ruleSet.groups.map((g) => [g.kind, g]));
  if (byKind.size === 0) return out;
  for (const r of ruleSet.rules) {
    const g = byKind.get(r.kind);
    if (!g) continue;
    for (const name of r.refs.agg) {
      const a = ruleSet.aggregates.get(name);
      if (!a || !Array.isArray(a.groupBy)) continue;
      const missing = a.groupBy.filter((l) => !g.by.includes(l));
      if (missing.length)
        out.push(
          r.loc.file.at(
            [...r.loc.path, 'target', 'kind'],
            `rule "${r.name}" reads agg.${name}, grouped by [${a.groupBy.join(', ')}], but ${g.kind} targets carry only [${g.by.join(', ')}]: agg.${name} is unknown for every one of them (group the aggregate by [${g.by.join(', ')}])`,
            { severity: 'warning' },
          ),
        );
    }
  }
  return out;
}

function derivedBy(project: Project, fact: string): boolean {
  return project.rules.some((r) => r.derive === fact);
}

/** Label selectors: an empty value, a lone "!", or "!" inside a list are mistakes, not ways to match everything. */
function checkSelector(r: LoadedRule, at: At): void {
  for (const [label, want] of Object.entries(r.target.labels ?? {})) {
    const path = ['target', 'labels', label];
    if (label.trim() !== label) at(path, `rule "${r.name}": label "${label}" has spaces around it`, undefined);
    const values = Array.isArray(want) ? want : [want];
    values.forEach((v, i) => {
      const p = Array.isArray(want) ? [...path, i] : path;
      if (v === '') at(p, `rule "${r.name}": label selector "${label}" has an empty value (name the value to match, or "!value" to exclude one)`);
      else if (v === '!') at(p, `rule "${r.name}": label selector "${label}": "!" excludes nothing (write "!value")`);
      else if (Array.isArray(want) && v.startsWith('!'))
        at(p, `rule "${r.name}": label selector "${label}": a list means "any of" and cannot hold a negation ("${v}"); use a single "!value"`);
      else if (v.trim() !== v) at(p, `rule "${r.name}": label selector "${label}": the value "${v}" has spaces around it`);
    });
  }
}
