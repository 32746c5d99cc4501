// Loads reflex.yaml and its rule files in layers: YAML with positions, schema, then the typed project.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { Node, Scalar } from 'yaml';
import { formatDiagnostic, scalarValueOffset, type SourceFile, type Diagnostic } from './diagnostics.js';
import { z } from 'zod';
import { Aggregate, Config, Group, Rule, RuleFile, type AggregateConfig, type GroupConfig, type RuleConfig } from './schema.js';
import { parseYamlFile, validate, validatePart, walkStrings, yaml11Pitfalls } from './yaml.js';

/** A rule file's outer shape; its entries are validated one by one. */
const RuleFileShape = RuleFile.extend({
  aggregates: z.array(z.unknown()).default([]),
  groups: z.array(z.unknown()).default([]),
  rules: z.array(z.unknown()).default([]),
});

/** Where something was declared, so later checks can point at it. */
export interface Loc {
  file: SourceFile;
  path: PropertyKey[];
}

export interface LoadedRule extends RuleConfig {
  loc: Loc;
}
export interface LoadedAggregate extends AggregateConfig {
  loc: Loc;
}
export interface LoadedGroup extends GroupConfig {
  loc: Loc;
}

export interface Project {
  dir: string;
  configPath: string;
  config: Config;
  configFile: SourceFile;
  rules: LoadedRule[];
  aggregates: LoadedAggregate[];
  /** Group targets declared under `groups:` in rule files (docs/rules.md). */
  groups: LoadedGroup[];
  ruleFiles: string[];
  /** Values of environment variables the configuration referenced: redacted everywhere. */
  secrets: string[];
  /** A hash of every loaded file's text: names a rule set in the store. */
  hash: string;
  /** The text of every loaded file (relative path -> text): stored once per hash so old runs can be explained. */
  texts: Record<string, string>;
}

/** Names declared by rule-file entries that failed validation: references to them are not reported as unknown. */
export interface Broken {
  rules: Set<string>;
  aggregates: Set<string>;
  /** Kinds that broken group declarations would make. */
  groups: Set<string>;
  /** Facts that broken derive rules would set. */
  facts: Set<string>;
}

export interface LoadResult {
  /** The project, when everything loaded without an error. */
  project?: Project;
  /**
   * When reflex.yaml is valid but some rule files or entries are not: the project
   * without them, so `reflex check` can go on and report every other problem too.
   */
  partial?: Project & { broken: Broken };
  diagnostics: Diagnostic[];
}

export const DEFAULT_CONFIG = 'reflex.yaml';

/** Find the config: an explicit path, or reflex.yaml in the current directory. */
export function resolveConfigPath(explicit: string | undefined, cwd = process.cwd()): string {
  if (explicit) {
    const p = resolve(cwd, explicit);
    if (existsSync(p) && statSync(p).isDirectory()) return join(p, DEFAULT_CONFIG);
    return p;
  }
  return resolve(cwd, DEFAULT_CONFIG);
}

const ENV_RE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replace ${VAR} and ${VAR:-default} in every string; `$${` writes a literal `${`. */
function interpolateEnv(file: SourceFile, env: NodeJS.ProcessEnv, secrets: Set<string>, diagnostics: Diagnostic[]): void {
  walkStrings(file.doc.contents, [], (value, _path, node: Node) => {
    if (!value.includes('${')) return undefined;
    return value.replace(ENV_RE, (m, name: string | undefined, def: string | undefined, at: number) => {
      if (m === '$${') return '${';
      const v = env[name!];
      if (v === undefined || v === '') {
        if (def !== undefined) return def;
        const { line, col } = file.pos(scalarValueOffset(file.text, node as Scalar, at));
        diagnostics.push({ file: file.path, line, col, severity: 'error', message: `environment variable ${name} is not set` });
        return '';
      }
      if (v.length >= 4) secrets.add(v);
      return v;
    });
  });
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '(?:.*/)?';
        i += glob[i + 2] === '/' ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Expand a path or glob (`*`, `**`, `?`) relative to dir; sorted for a stable rule order. */
export function expandGlob(dir: string, pattern: string): string[] {
  if (!/[*?]/.test(pattern)) {
    const p = isAbsolute(pattern) ? pattern : join(dir, pattern);
    return existsSync(p) ? [p] : [];
  }
  const parts = pattern.split('/');
  const firstGlob = parts.findIndex((p) => /[*?]/.test(p));
  const base = join(isAbsolute(pattern) ? '/' : dir, ...parts.slice(0, firstGlob));
  const rest = parts.slice(firstGlob).join('/');
  if (!existsSync(base)) return [];
  const re = globToRegExp(rest);
  const recursive = rest.includes('**') || rest.includes('/');
  const entries = readdirSync(base, { recursive, withFileTypes: false }) as string[];
  return entries
    .map((e) => e.split('\\').join('/'))
    .filter((e) => re.test(e))
    .map((e) => join(base, e))
    .filter((p) => statSync(p).isFile())
    .sort();
}

/** Files that hold scenario tests, not rules: `*_test.yaml` is left to `reflex test`. */
export function isTestFile(path: string): boolean {
  return /_test\.ya?ml$/.test(path);
}

export function loadProject(configPath: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const dir = dirname(configPath);
  const rel = (p: string) => relative(process.cwd(), p) || p;
  const texts: Record<string, string> = {};
  const hash = createHash('sha256');

  const readText = (p: string): string | undefined => {
    try {
      const t = readFileSync(p, 'utf8');
      texts[relative(dir, p)] = t;
      hash.update(relative(dir, p)).update('\0').update(t).update('\0');
      return t;
    } catch {
      return undefined;
    }
  };

  const cfgText = readText(configPath);
  if (cfgText === undefined) {
    diagnostics.push({
      file: rel(configPath),
      line: 0,
      col: 0,
      message: existsSync(configPath) ? 'cannot read the configuration' : 'no configuration found here (create one with `reflex init`)',
      severity: 'error',
    });
    return { diagnostics };
  }
  const parsed = parseYamlFile(rel(configPath), cfgText);
  diagnostics.push(...parsed.diagnostics);
  if (parsed.fatal) return { diagnostics };
  const configFile = parsed.file;
  const secrets = new Set<string>();
  interpolateEnv(configFile, env, secrets, diagnostics);
  const cfgData = configFile.doc.toJS() ?? {};
  const cfg = validate(Config, cfgData, configFile, 'the configuration');
  diagnostics.push(...cfg.diagnostics);

  const rules: LoadedRule[] = [];
  const aggregates: LoadedAggregate[] = [];
  const ruleFiles: string[] = [];
  const groups: LoadedGroup[] = [];
  const broken: Broken = { rules: new Set(), aggregates: new Set(), groups: new Set(), facts: new Set() };
  // Rule files are read even when reflex.yaml is invalid, so their problems are reported in the same run.
  const patterns: unknown = cfg.value?.rules ?? (cfgData as { rules?: unknown }).rules ?? ['rules/*.yaml'];
  (Array.isArray(patterns) ? patterns : []).forEach((pattern: unknown, i) => {
    if (typeof pattern !== 'string') return;
    const files = expandGlob(dir, pattern).filter((f) => !isTestFile(f));
    if (files.length === 0 && cfg.value) {
      diagnostics.push(configFile.at(['rules', i], `no rule files match "${pattern}"${/[*?]/.test(pattern) ? '' : ' (the file does not exist)'}`));
    }
    for (const f of files) {
      if (ruleFiles.includes(f)) continue;
      ruleFiles.push(f);
      const text = readText(f);
      const pf = parseYamlFile(rel(f), text);
      diagnostics.push(...pf.diagnostics);
      if (pf.fatal) continue;
      const data = pf.file.doc.toJS() ?? {};
      diagnostics.push(...yaml11Pitfalls(RuleFile, data, pf.file));
      const shape = validatePart(RuleFileShape, data, pf.file, 'the rule file', []);
      diagnostics.push(...shape.diagnostics);
      if (!shape.value) continue;
      shape.value.aggregates.forEach((item, j) => {
        const v = validatePart(Aggregate, item, pf.file, `aggregate ${j + 1}`, ['aggregates', j]);
        diagnostics.push(...v.diagnostics);
        if (v.value) aggregates.push({ ...v.value, loc: { file: pf.file, path: ['aggregates', j] } });
        else nameOf(item, 'name', broken.aggregates);
      });
      shape.value.groups.forEach((item, j) => {
        const v = validatePart(Group, item, pf.file, `group ${j + 1}`, ['groups', j]);
        diagnostics.push(...v.diagnostics);
        if (v.value) groups.push({ ...v.value, loc: { file: pf.file, path: ['groups', j] } });
        else nameOf(item, 'kind', broken.groups);
      });
      shape.value.rules.forEach((item, j) => {
        const v = validatePart(Rule, item, pf.file, `rule ${j + 1}`, ['rules', j]);
        diagnostics.push(...v.diagnostics);
        if (v.value) rules.push({ ...v.value, loc: { file: pf.file, path: ['rules', j] } });
        else {
          nameOf(item, 'name', broken.rules);
          nameOf(item, 'derive', broken.facts);
        }
      });
    }
  });
  if (!cfg.value) return { diagnostics: redact(diagnostics, secrets) };

  const project: Project = {
    dir,
    configPath,
    config: cfg.value,
    configFile,
    rules,
    aggregates,
    groups,
    ruleFiles,
    secrets: [...secrets],
    hash: hash.digest('hex').slice(0, 16),
    texts,
  };
  const clean = !diagnostics.some((d) => d.severity === 'error');
  return clean ? { project, diagnostics: redact(diagnostics, secrets) } : { partial: { ...project, broken }, diagnostics: redact(diagnostics, secrets) };
}

function nameOf(item: unknown, field: string, into: Set<string>): void {
  const v = item && typeof item === 'object' ? (item as Record<string, unknown>)[field] : undefined;
  if (typeof v === 'string') into.add(v);
}

function redact(diags: Diagnostic[], secrets: Set<string>): Diagnostic[] {
  if (secrets.size === 0) return diags;
  return diags.map((d) => {
    let m = d.message;
    for (const s of secrets) m = m.split(s).join('***');
    return { ...d, message: m };
  });
}

/** Point at a place in a loaded rule or aggregate. */
export function diagAt(
  loc: Loc,
  sub: PropertyKey[],
  message: string,
  opts: { key?: boolean; severity?: 'error' | 'warning'; offset?: number } = {},
): Diagnostic {
  return loc.file.at([...loc.path, ...sub], message, opts);
}

export function formatAll(diags: Diagnostic[]): string {
  return diags.map(formatDiagnostic).join('\n');
}
