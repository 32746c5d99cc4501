// The JSON Schema of each file kind, generated from the one zod schema (for editors' completion and validation).
import { z } from 'zod';
import { Config, RuleFile } from '../config/schema.js';

export type SchemaKind = 'config' | 'rules' | 'tests';

const TITLES: Record<SchemaKind, string> = {
  config: 'Reflex configuration (reflex.yaml)',
  rules: 'Reflex rule file',
  tests: 'Reflex scenario test file',
};

export async function jsonSchema(kind: SchemaKind): Promise<Record<string, unknown>> {
  let schema: z.ZodType;
  if (kind === 'config') schema = Config;
  else if (kind === 'rules') schema = RuleFile;
  else schema = (await import('../testing/schema.js')).ScenarioFile;
  const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12', override: humanPatternMessages }) as Record<
    string,
    unknown
  >;
  describeAll(js, '', DESCRIPTIONS[kind]);
  const { $schema, ...rest } = js;
  return { $schema, $id: `${SCHEMA_BASE}/${kind}.schema.json`, title: TITLES[kind], ...rest };
}

/** Where the schemas are published: `$id`, so editors and other schemas can refer to them by a stable address. */
export const SCHEMA_BASE = 'https://raw.githubusercontent.com/reflex-remediation/reflex/main/schema';

/**
 * A value that does not match a pattern (a duration, a name) is explained in words: the regex check's own message
 * becomes `patternErrorMessage`, which editors (VS Code's YAML and JSON support) show instead of the raw regex.
 */
function humanPatternMessages(ctx: { zodSchema: unknown; jsonSchema: Record<string, unknown> }): void {
  const def = (ctx.zodSchema as { _zod?: { def?: { checks?: { _zod: { def: { format?: string; error?: unknown } } }[] } } })._zod?.def;
  for (const c of def?.checks ?? []) {
    const d = c._zod.def;
    if (d.format !== 'regex' || typeof d.error !== 'function') continue;
    const m = (d.error as (issue: object) => unknown)({});
    const text = typeof m === 'string' ? m : (m as { message?: string } | undefined)?.message;
    if (text) ctx.jsonSchema.patternErrorMessage = text;
  }
}

type Node = Record<string, unknown>;

/**
 * Every property gets a description, for editors' hover help: the schema's own (schema.ts, testing/schema.ts), or the
 * one below for properties whose zod definition is shared or generated (a source's `kind`, a record's entries).
 * Paths are property names joined by dots, `[]` for the entries of a list or a map.
 */
function describeAll(n: unknown, path: string, table: Record<string, string>): void {
  if (!n || typeof n !== 'object') return;
  if (Array.isArray(n)) {
    for (const x of n) describeAll(x, path, table);
    return;
  }
  const node = n as Node;
  const props = node.properties as Record<string, Node> | undefined;
  for (const [name, p] of Object.entries(props ?? {})) {
    const q = path ? `${path}.${name}` : name;
    if (p && typeof p === 'object' && p.description === undefined) {
      const kind = name === 'kind' && p.const !== undefined && KIND[path] ? `${KIND[path]} of kind ${String(p.const)}.` : undefined;
      const d = table[q] ?? kind ?? COMMON[name];
      if (d) p.description = d;
    }
    describeAll(p, q, table);
  }
  for (const [k, v] of Object.entries(node)) {
    if (k !== 'properties') describeAll(v, k === 'items' || k === 'additionalProperties' ? `${path}[]` : path, table);
  }
}

const KIND: Record<string, string> = { 'sources[]': 'A source', 'actions[]': 'An action', 'channels[]': 'A channel' };

/** The same meaning wherever the name appears. */
const COMMON: Record<string, string> = {
  $schema: 'The JSON Schema of this file, for editors (e.g. ../schema/config.schema.json).',
  headers: 'HTTP headers sent with every request (values may use ${ENV_VAR}; secret-looking headers are redacted in logs).',
  cwd: 'The working directory of the command (relative to reflex.yaml; default: its folder).',
  labels: 'Labels (label: value), matched by selectors and used for groups and disables.',
  reason: 'Why (kept with the record, as reflex disable --reason does).',
  by: 'Who (as reflex disable --by).',
  rule: 'A rule, by name.',
  action: 'An action, by name.',
  target: 'A target, by id.',
};

const DESCRIPTIONS: Record<SchemaKind, Record<string, string>> = {
  config: {
    sources:
      'Where facts come from in a run: inventory files, Prometheus, Alertmanager, HTTP endpoints and commands. Each runs within its timeout; a failed source makes its facts unknown.',
    'sources[].auth.basic': 'HTTP basic authentication.',
    'sources[].auth.basic.username': 'The user name.',
    'sources[].auth.basic.password': 'The password; use ${ENV_VAR}.',
    'sources[].queries': 'PromQL instant queries, one fact each.',
    'sources[].include_suppressed': 'Also report alerts that are silenced or inhibited (default true).',
    'sources[].url': 'The URL to request (GET), e.g. https://status.internal/api/instances.',
    actions: 'What rules can do (name: definition): exec (a command as an argv array, no shell) or http (one request to a configured host).',
    'actions[].description': 'What the action does, for people (shown by reflex why and in messages).',
    'actions[].params[].description': 'What the parameter is, for people.',
    'actions[].method': 'The HTTP method (default POST).',
    'actions[].follow_redirects': 'Follow HTTP redirects (default false: a redirect is a failure, so the host stays the configured one).',
    channels: 'Where messages to people go (name: definition): Slack, PagerDuty, a webhook, or a log file.',
    'channels[].url': 'The URL the message is POSTed to.',
    defaults: 'Defaults for rules, actions and sources that do not say.',
    'defaults.severity': 'Severity of rules that do not say (info, warning, critical).',
    guardrails: 'What stops automation from doing harm: the severity gate, breakers, blast-radius limits, budgets (docs/guardrails.md).',
    'guardrails.widespread.fraction': 'Trip when at least this fraction of a group is in trouble at once (0 to 1).',
    'guardrails.widespread.min_targets': 'And at least this many targets of the group.',
    'guardrails.widespread.group_by': 'Labels that make a group (e.g. [service]); without them the whole fleet is one group.',
    'guardrails.blast_radius': 'Limits on how much automation may do in a window.',
    'guardrails.blast_radius.per_rule': 'At most this many actions per rule in a window, e.g. "3 per 10m".',
    'guardrails.blast_radius.per_action': 'At most this many runs of each action in a window, e.g. "10 per 1h".',
    'guardrails.blast_radius.group_by': 'Labels that make a group for group_fraction (e.g. [service]).',
    'guardrails.failure_breaker': 'Disable a rule whose actions keep failing, until a person enables it again.',
    'guardrails.failure_breaker.failures': 'Trip after this many failed executions...',
    'guardrails.failure_breaker.of_last': "...among the rule's last this many finished executions.",
    'guardrails.storm.enabled': 'Stop a rule whose actions are followed by more trouble in the same group (default true).',
    retention: 'How long runs are kept in the store.',
  },
  rules: {
    aggregates:
      "Group aggregates computed once per run, for rules to read as agg.NAME: the fraction of a service's instances that are unhealthy, a region's error rate.",
    'aggregates[].name': "The aggregate's name: rules read it as agg.NAME.",
    'aggregates[].description': 'What it measures, for people.',
    'aggregates[].function': "How members' values combine into the aggregate.",
    groups: "Group targets made from the members' labels (a region target per region, a customer per customer), for rules that act or escalate once per group.",
    'groups[].description': 'What the group is, for people.',
    rules: 'The rules of this file: each a named SOP (which targets, when, what to do).',
    'rules[].name': "The rule's name: unique across all rule files, used by reflex why, disables, metrics and messages.",
    'rules[].description': 'What the rule is for, in the words of the SOP: shown by reflex why and in messages to people.',
    'rules[].severity': 'How bad the problem is (info, warning, critical); above guardrails.max_severity it goes to a human instead of acting.',
    'rules[].mode': 'dry-run (shadow: decide and record, never act) or enforce. Default: defaults.mode.',
    'rules[].escalate': "Who hears about this rule's decisions, and when (blocked, failed, unknown, matched).",
    'rules[].labels': 'Labels of the rule itself (team, runbook section), carried in messages.',
  },
  tests: {
    scenarios: 'The scenarios of this file, each run on its own synthetic clock against a fresh store.',
    'scenarios[].description': 'What the scenario shows, for people.',
    'scenarios[].state.disables': 'Disables in force before the first step.',
    'scenarios[].state.cooldowns': 'Cooldowns running before the first step (a rule acted on a target shortly before).',
    'scenarios[].state.executions': 'Executions journaled before the first step (for limits and the failure breaker).',
    'scenarios[].steps': "The runs of the scenario, in order: facts, people's actions and what each run must decide.",
    'scenarios[].steps[].disable': 'Disable a rule, an action or a target before this step runs (as reflex disable).',
    'scenarios[].steps[].enable': 'Lift disables before this step runs (as reflex enable).',
    'scenarios[].steps[].enable[].selector': 'A label selector disable, as k=v,k2=v2.',
    'scenarios[].steps[].escalations[].event': 'trigger (a message opened) or resolve (a message closed).',
  },
};
