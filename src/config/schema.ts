// The one schema of reflex.yaml and rule files: types, validation and the editors' JSON Schema all come from here.
import { z } from 'zod';

const DURATION_RE = /^(\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
/** A duration such as `30s`, `5m`, `1h30m`, `7d`. */
export const Duration = z
  .string()
  .regex(DURATION_RE, { message: 'expected a duration such as 30s, 5m, 1h30m or 7d' })
  .describe('A duration: a number with a unit (ms, s, m, h, d), e.g. 30s, 5m, 1h30m, 7d.');

/** `for:` accepts a duration (`5m`) or a number of consecutive runs (`3 runs`). */
export const ForSpec = z
  .string()
  .regex(/^((\d+(?:\.\d+)?(?:ms|s|m|h|d))+|\d+ runs?)$/, {
    message: 'expected a duration such as 5m, or a number of consecutive runs such as "3 runs"',
  })
  .describe('How long the conditions must hold before the rule acts: a duration (5m) or consecutive runs ("3 runs").');

const Name = z.string().regex(/^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?$/i, {
  message: 'names use letters, digits, "-", "_" and "." (and start and end with a letter or digit)',
});

// `__proto__` and `constructor` are identifiers too, but a map holding them cannot be read by conditions (sources/shape.ts).
const FactName = z.string().regex(/^(?!(?:__proto__|constructor)$)[A-Za-z_][A-Za-z0-9_]*$/, {
  message: 'fact names are identifiers: letters, digits and "_", not starting with a digit (and not `__proto__` or `constructor`)',
});

/** A CEL expression (https://cel.dev). */
const Cel = z.string().min(1, { message: 'an expression may not be empty' }).describe('A CEL expression.');

/** Named conditions: name -> CEL expression; all must hold. */
const Conditions = z.record(FactName, Cel).describe('Named conditions (name: CEL expression). All must hold; each is explained by name.');

/** Label selector: label -> value or list of accepted values; `!value` negates. */
export const LabelSelector = z
  .record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)]))
  .describe('Labels a target must carry: label: value, label: [a, b] (any of), or label: "!value" (not).');

export const Severity = z.enum(['info', 'warning', 'critical']);
export const Mode = z.enum(['dry-run', 'enforce']);
/** A rule's mode: dry-run (shadow: decide, never act), approve (decide, and ask a person each time), enforce (act). */
export const RuleMode = z
  .enum(['dry-run', 'approve', 'enforce'])
  .describe('dry-run: decide and record, never act; approve: decide and ask a person (reflex approve) before each action; enforce: act.');

/** A string that may hold `{{ path }}` placeholders filled from the target, its facts and params. */
const Template = z.string().describe('Text with {{ placeholders }}: target.id, target.kind, labels.x, facts.x, params.x, rule.name.');

const Headers = z.record(z.string(), z.string());

const Auth = z
  .strictObject({
    bearer: z.string().optional().describe('Bearer token; use ${ENV_VAR}.'),
    basic: z.strictObject({ username: z.string(), password: z.string() }).optional(),
  })
  .describe('Authentication for an HTTP endpoint (secrets from ${ENV_VARS}).');

// ---------------------------------------------------------------- sources

/** A size in bytes: a number, or a number with a unit (KiB, MiB, GiB; KB, MB, GB). */
export const ByteSize = z
  .union([
    z.number().int().positive(),
    z.string().regex(/^\d+(\.\d+)?\s*([KMG]i?B|B)$/, { message: 'expected a size such as 64MiB, 512KiB or a number of bytes' }),
  ])
  .describe('A size: a number of bytes, or a number with a unit such as 512KiB, 64MiB, 1GiB.');

/** The type a source declares for a fact: `reflex check` type-checks conditions against it, and a run makes a value of another type unknown. */
export const FactType = z
  .enum(['bool', 'number', 'string'])
  .describe('The type of the fact: bool, number or string. reflex check type-checks expressions against it; a value of another type is unknown.');

const SourceBase = {
  name: Name.describe('The source name, shown in explanations of its facts.'),
  timeout: Duration.optional().describe('How long the source may take; then its facts are unknown. Default: defaults.source_timeout.'),
  cooldown: Duration.optional().describe('Reuse the last successful result for this long (for expensive analyses).'),
  max_bytes: ByteSize.optional().describe(
    'The largest answer (file, response body, command output) read from this source; a larger one fails the source. Default 64MiB (16MiB for commands).',
  ),
  max_depth: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('How deeply a fact value may nest (lists and maps in lists and maps); a deeper value is unknown. Default 32.'),
};

/** How reported series or records become targets. */
const TargetMapping = z
  .strictObject({
    // No zod default: a per-query mapping overrides the source's field by field, so an absent id_label must stay absent.
    id_label: z
      .string()
      .optional()
      .describe('Which label (or record field) holds the target id. Default: instance (Prometheus, Alertmanager), id (http records).'),
    kind: z.string().optional().describe('The kind of the targets this source reports.'),
    keep_labels: z.array(z.string()).optional().describe('Labels to copy onto the target.'),
    depends_on_label: z.string().optional().describe('A label that names the target this one depends on.'),
  })
  .describe('How results map onto targets.');

export const InventorySource = z.strictObject({
  ...SourceBase,
  kind: z.literal('inventory'),
  path: z.string().describe('A YAML or JSON file of targets: id, kind, labels, depends_on, facts.'),
});

export const PrometheusSource = z.strictObject({
  ...SourceBase,
  kind: z.literal('prometheus'),
  url: z.string().describe('Base URL of Prometheus, e.g. http://127.0.0.1:9090'),
  auth: Auth.optional(),
  headers: Headers.optional(),
  staleness: Duration.optional().describe('A sample older than this is unknown. Default 5m.'),
  target: TargetMapping.optional(),
  queries: z
    .array(
      z.strictObject({
        fact: FactName.describe('The fact this query sets on each target it returns.'),
        query: z.string().min(1).describe('A PromQL instant query.'),
        type: z
          .enum(['bool', 'number'])
          .optional()
          .describe('number (default), or bool: a sample of 1 is true, 0 is false (what `== bool 1` returns), anything else is unknown.'),
        target: TargetMapping.optional(),
        expect_targets: z.boolean().optional().describe('An empty answer is reported as a problem (default true).'),
      }),
    )
    .min(1),
});

export const AlertmanagerSource = z.strictObject({
  ...SourceBase,
  kind: z.literal('alertmanager'),
  url: z.string().describe('Base URL of Alertmanager, e.g. http://127.0.0.1:9093'),
  auth: Auth.optional(),
  headers: Headers.optional(),
  target: TargetMapping.optional(),
  fact: FactName.default('alerts').describe("The fact that holds the list of the target's alerts."),
  include_suppressed: z.boolean().default(true),
  filter: z.array(z.string()).optional().describe('Alertmanager matchers, e.g. severity="critical".'),
});

export const HttpSource = z.strictObject({
  ...SourceBase,
  kind: z.literal('http'),
  url: z.string(),
  auth: Auth.optional(),
  headers: Headers.optional(),
  /** CEL over `response` (body), `status`, `latency_ms` returning a list of records. */
  records: Cel.optional().describe('CEL over body/status/latency_ms that returns a list of records (maps), one per target.'),
  target: TargetMapping.optional(),
  facts: z
    .record(
      FactName,
      z.union([
        Cel,
        z.strictObject({
          value: Cel.describe('A CEL expression over `record` (and body, status, latency_ms).'),
          type: FactType.optional(),
        }),
      ]),
    )
    .describe('fact: CEL expression over `record` (and body, status, latency_ms), or {value: expression, type: bool|number|string}.'),
  target_id: z.string().optional().describe('For a single-target probe: the target id the facts belong to.'),
});

export const CommandSource = z.strictObject({
  ...SourceBase,
  kind: z.literal('command'),
  argv: z.array(z.string()).min(1).describe('The command and its arguments; no shell.'),
  cwd: z.string().optional(),
  env: z.array(z.string()).optional().describe('Names of environment variables passed through (allow-list).'),
  facts: z
    .union([z.array(FactName), z.record(FactName, FactType)])
    .optional()
    .describe('Fact names the command prints (for reflex check): a list of names, or a map of name: type (bool, number, string).'),
});

export const Source = z.discriminatedUnion('kind', [InventorySource, PrometheusSource, AlertmanagerSource, HttpSource, CommandSource]);

// ---------------------------------------------------------------- actions and channels

const ActionBase = {
  description: z.string().optional(),
  timeout: Duration.optional().describe('Default: defaults.action_timeout.'),
  cooldown: Duration.optional().describe('Minimum time between two executions on one target. Default: defaults.cooldown.'),
  params: z
    .record(
      FactName,
      z.strictObject({
        pattern: z.string().optional().describe('A regular expression the whole value must match.'),
        description: z.string().optional(),
      }),
    )
    .optional()
    .describe('Parameters the action accepts, each optionally checked against a pattern.'),
};

export const ExecAction = z.strictObject({
  ...ActionBase,
  kind: z.literal('exec'),
  argv: z.array(Template).min(1).describe('Command and arguments; each templated value becomes exactly one argument. No shell.'),
  cwd: z.string().optional(),
  env: z.array(z.string()).optional().describe('Names of environment variables passed through (allow-list).'),
  max_output: z.number().int().positive().optional().describe('Bytes of output kept (default 64 KiB).'),
});

export const HttpAction = z.strictObject({
  ...ActionBase,
  kind: z.literal('http'),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
  url: Template.describe('The host is fixed here; placeholders may appear only in the path and query.'),
  headers: z.record(z.string(), Template).optional(),
  body: z.unknown().optional().describe('A JSON body; string values may hold placeholders.'),
  follow_redirects: z.boolean().default(false),
  allow_private: z.boolean().default(true).describe('Allow loopback and private addresses (link-local and metadata are always refused).'),
});

export const Action = z.discriminatedUnion('kind', [ExecAction, HttpAction]);

export const WebhookChannel = z.strictObject({
  kind: z.literal('webhook'),
  url: z.string(),
  headers: Headers.optional(),
  secret: z
    .string()
    .regex(/^(whsec_)?[A-Za-z0-9+/]{32,88}={0,2}$/, 'must be a Standard Webhooks secret: whsec_ followed by 24 to 64 random bytes in base64')
    .optional()
    .describe(
      'Sign every request in the Standard Webhooks scheme (webhook-id, webhook-timestamp, webhook-signature headers): whsec_ and 24-64 random bytes in base64; use ${ENV_VAR}.',
    ),
});
export const SlackChannel = z.strictObject({
  kind: z.literal('slack'),
  url: z.string().describe('A Slack incoming-webhook URL; use ${ENV_VAR}.'),
});
export const PagerDutyChannel = z.strictObject({
  kind: z.literal('pagerduty'),
  routing_key: z.string().describe('The Events API v2 integration key; use ${ENV_VAR}.'),
  url: z.string().optional().describe('Events API endpoint (default https://events.pagerduty.com/v2/enqueue).'),
});
export const LogChannel = z.strictObject({
  kind: z.literal('log'),
  path: z.string().optional().describe('Append escalations as JSON lines to this file (default: standard error).'),
});
export const Channel = z.discriminatedUnion('kind', [WebhookChannel, SlackChannel, PagerDutyChannel, LogChannel]);

// ---------------------------------------------------------------- guardrails

const Limit = z.string().regex(/^\d+ per ((\d+(?:\.\d+)?(?:ms|s|m|h|d))+)$/, { message: 'expected "N per DURATION", e.g. "5 per 10m"' });

/** What people hear about decisions they stopped themselves (off switch, disables). */
export const SwitchedOff = z.enum(['none', 'summary', 'each']);

export const Guardrails = z
  .strictObject({
    max_severity: Severity.default('warning').describe('Decisions above this severity go to a human instead of acting.'),
    budget_per_run: z.number().int().min(0).default(20).describe('At most this many actions in one run.'),
    widespread: z
      .strictObject({
        fraction: z.number().min(0).max(1).default(0.3),
        min_targets: z.number().int().min(1).default(3),
        max_targets: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe('Also trip when more than this many targets of a group have a problem, whatever the fraction.'),
        group_by: z.array(z.string()).default(['service']),
        implausible: z
          .boolean()
          .default(true)
          .describe('Stop everything when every target (at least min_targets) has a problem or unknown facts at once, as in a monitoring outage.'),
      })
      .prefault({})
      .describe('When more than this fraction of a group matches problem rules, escalate once instead of acting.'),
    blast_radius: z
      .strictObject({
        per_rule: Limit.default('10 per 10m'),
        per_action: Limit.optional(),
        group_fraction: z.number().min(0).max(1).default(0.2).describe('At most this fraction of a group acted on within the window.'),
        group_max: z.number().int().min(0).optional().describe('At most this many targets of a group acted on within the window.'),
        group_by: z.array(z.string()).default(['service']),
        window: Duration.default('10m'),
        min_healthy: z.number().min(0).max(1).optional().describe('Keep at least this fraction of a group healthy.'),
      })
      .prefault({}),
    failure_breaker: z
      .strictObject({
        failures: z.number().int().min(1).default(3),
        of_last: z.number().int().min(1).default(5),
      })
      .prefault({}),
    storm: z
      .strictObject({
        window: Duration.default('30m').describe('How far back the actions of a rule count.'),
        min_actions: z
          .number()
          .int()
          .min(1)
          .default(3)
          .describe('The breaker looks at a group only once the rule acted on this many of its targets in the window.'),
        ratio: z
          .number()
          .gt(0)
          .default(1.5)
          .describe('It trips when the targets of the group newly in trouble since the first of those actions reach this many per action.'),
        enabled: z.boolean().default(true),
      })
      .prefault({})
      .describe('The remediation-storm breaker: a rule whose actions are followed by new trouble around them stops, with one message.'),
    blind: z
      .strictObject({
        fraction: z
          .number()
          .gt(0)
          .max(1)
          .default(1)
          .describe('A rule is blind when at least this fraction of the targets it evaluated is unknown (1: all of them).'),
        min_targets: z.number().int().min(1).default(1).describe('And at least this many of its targets are unknown.'),
      })
      .prefault({})
      .describe('The blind-automation alarm: one message per rule that cannot decide because its facts are unknown (sources failed or stale).'),
    slow_start: z
      .boolean()
      .default(true)
      .describe(
        "A rule's actions in one run start in waves of 1, 2, 4, ... up to defaults.max_concurrency, widening only while the previous wave succeeded; a failure stops the rule's batch.",
      ),
    require_tests: z.boolean().default(false).describe('Every enforced rule must have a scenario test (reflex check fails otherwise).'),
  })
  .prefault({});

export const Defaults = z
  .strictObject({
    mode: RuleMode.default('dry-run').describe('Mode of rules that do not say: new rules start in dry-run.'),
    severity: Severity.default('warning'),
    cooldown: Duration.default('15m'),
    source_timeout: Duration.default('10s'),
    action_timeout: Duration.default('60s'),
    run_timeout: Duration.optional().describe(
      'The longest one run may take: past it no more actions start, actions in flight are stopped, what happened is recorded and the run exits 1 (default: twice shards.lease, at least 1m).',
    ),
    escalate_to: Name.optional().describe('The channel for escalations of rules that do not name one.'),
    switched_off: SwitchedOff.default('summary').describe(
      'What a rule escalating `blocked` sends while people have switched it off (off switch, disables): none, one summary per rule (default), or each target.',
    ),
    max_concurrency: z.number().int().min(1).default(4).describe('Actions (and sources) running at once.'),
  })
  .prefault({});

export const Metrics = z
  .strictObject({
    textfile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Write every run's metrics to this file for node_exporter's textfile collector (a path ending in .prom, in the collector's folder; relative to this file). Replaced atomically.",
      ),
    pushgateway: z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+[^\s?#]*$/, { message: 'expected the http:// or https:// address of a Pushgateway, e.g. http://pushgateway:9091' })
      .optional()
      .describe("Push every run's metrics to this Pushgateway (e.g. http://pushgateway:9091), grouped by job, instance and shard."),
    job: z.string().min(1).default('reflex').describe('The job label of the Pushgateway group (default reflex).'),
    instance: z.string().min(1).optional().describe("The instance label of the Pushgateway group (default: the machine's host name)."),
    timeout: Duration.default('5s').describe('How long a push may take; then it is given up with a warning (the run is not affected).'),
  })
  .prefault({})
  .describe('Prometheus metrics about Reflex itself, written after every run (docs/observability.md). reflex serve exposes the same series on /metrics.');

export const Config = z.strictObject({
  $schema: z.string().optional(),
  store: z.string().default('.reflex/state.db').describe('A SQLite file (default .reflex/state.db, relative to this file) or postgres://user@host/db.'),
  rules: z.array(z.string()).min(1).default(['rules/*.yaml']).describe('Rule files: paths or globs, relative to this file.'),
  tests: z.array(z.string()).optional().describe('Scenario test files for `reflex test` (default: rules/*_test.yaml).'),
  sources: z.array(Source).default([]),
  actions: z.record(Name, Action).default({}),
  channels: z.record(Name, Channel).default({}),
  defaults: Defaults,
  guardrails: Guardrails,
  retention: z
    .strictObject({
      runs: Duration.default('30d').describe('Runs (and their snapshots) older than this are deleted.'),
      max_runs: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe('At most this many finished runs are kept (the newest); older ones are deleted even within `runs`. Unset: no limit by count.'),
    })
    .prefault({}),
  shards: z
    .strictObject({
      count: z
        .number()
        .int()
        .min(1)
        .max(4096)
        .default(1)
        .describe('Shards the targets are split into; above 1, several runners share the work through a PostgreSQL store (docs/scale-out.md).'),
      by: z.string().optional().describe('A label to shard by (targets with the same value share a shard; default: a stable hash of the target id).'),
      lease: Duration.default('5m').describe(
        "How long a runner keeps its lease (renewed every third of it while it works); a dead runner's shards are taken over after it.",
      ),
      max_per_runner: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe(
          'At most this many shards claimed by one run (default: every free shard). Size it as count / (runners - runners allowed to fail), rounded up.',
        ),
    })
    .prefault({})
    .describe('Scale-out: targets split into shards, each claimed by one runner at a time with a lease.'),
  metrics: Metrics,
});

// ---------------------------------------------------------------- rule files

export const TargetSelector = z
  .strictObject({
    kind: z.string().min(1).describe('The kind of target the rule is for (instance, service, datastore...).'),
    labels: LabelSelector.optional(),
  })
  .describe('Which targets the rule is for.');

export const Aggregate = z
  .strictObject({
    name: FactName,
    description: z.string().optional(),
    of: z.string().min(1).describe('The kind of the member targets.'),
    group_by: z
      .union([z.array(z.string()).min(1), z.literal('depends_on'), z.literal('all')])
      .describe('Labels that form the groups (a target sees the group its labels select), "depends_on" (the members that depend on the target), or "all".'),
    function: z.enum(['count', 'fraction', 'sum', 'avg', 'min', 'max']),
    where: Cel.optional().describe('CEL over a member: which members count (count, fraction).'),
    value: Cel.optional().describe('CEL over a member: the number to sum, average, min or max (or, with compare: version or string, the text).'),
    compare: z
      .enum(['number', 'version', 'string'])
      .default('number')
      .describe(
        'How min and max order the values: number (default); version (MAJOR.MINOR.PATCH numerically, 1.10.0 > 1.9.3, semver pre-releases below their release), giving the version text itself; string (code-point order).',
      ),
    max_unknown: z.number().min(0).max(1).default(0.1).describe('If more than this fraction of members is unknown, the aggregate is unknown.'),
  })
  .describe('A group aggregate, computed once per group per run and read in conditions as agg.NAME.');

/** A label name as a group's `by:` takes it: any text without spaces (Prometheus names, `app.kubernetes.io/name`). */
const LabelName = z.string().regex(/^[^\s]+$/, { message: 'a label name is text without spaces' });

export const Group = z
  .strictObject({
    kind: Name.describe('The kind of the group targets (region, customer, zone): rules target it like any other kind. No source may report it.'),
    description: z.string().optional(),
    of: z.string().min(1).describe('The kind of the members: one group target is made for each distinct value of the `by` labels among them.'),
    by: z
      .array(LabelName)
      .min(1)
      .describe(
        'The labels whose distinct values make the group targets: `region` makes region/eu-west-1 (labels {region: eu-west-1}) for the members labelled region=eu-west-1. A member lacking one (or with it empty) is in no group.',
      ),
  })
  .describe(
    'Group targets: one pseudo-target per distinct label value of the members (a region per region), read like any target; aggregates grouped by the same labels give them their members.',
  );

export const Step = z
  .strictObject({
    action: Name.describe('An action declared in reflex.yaml.'),
    with: z.record(FactName, Template).optional().describe('Parameters for the action (templated).'),
    cooldown: Duration.optional(),
    timeout: Duration.optional(),
  })
  .describe('An action to run.');

export const Escalation = z
  .strictObject({
    to: Name.optional().describe('The channel (default: defaults.escalate_to).'),
    switched_off: SwitchedOff.optional().describe('Overrides defaults.switched_off for this rule.'),
    summary: Template.optional(),
    on: z
      .array(z.enum(['matched', 'context', 'blocked', 'failed', 'unknown']))
      .optional()
      .describe('When to escalate: matched (always), context (a context condition failed), blocked (a guardrail stopped it), failed, unknown.'),
  })
  .describe('Whom to tell, and when.');

/** Limits on one rule, tightening the global guardrails (which stay a ceiling). */
export const RuleLimits = z
  .strictObject({
    blast_radius: Limit.optional().describe(
      'At most this many executions of this rule per window, e.g. "3 per 10m" (blast_radius.per_rule stays the ceiling).',
    ),
    budget_per_run: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("At most this many of this rule's actions in one run (guardrails.budget_per_run stays the ceiling)."),
    group_fraction: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("At most this fraction of a group's targets acted on by this rule within the group window (blast_radius.group_fraction stays the ceiling)."),
  })
  .describe("Limits of this rule's own, tighter than the global guardrails.");
/** `within:` of a verification: a duration (10m) or a number of later runs ("3 runs"). */
export const WithinSpec = z
  .string()
  .regex(/^((\d+(?:\.\d+)?(?:ms|s|m|h|d))+|[1-9]\d* runs?)$/, {
    message: 'expected a duration such as 10m, or a number of later runs such as "3 runs"',
  })
  .describe('How long the problem may persist after the action: a duration (10m) or later runs ("3 runs").');

export const Verify = z
  .strictObject({
    within: WithinSpec,
    expect: Cel.optional().describe(
      "CEL over the target (facts, labels, agg...): true once the action helped. Default: the rule's `when` no longer holds for the target.",
    ),
  })
  .describe(
    'Check that a succeeded action fixed the problem; if not, it is ineffective: a person hears it, the failure breaker counts it, and the rule stops acting on that target.',
  );

/** Guardrails a person may let a decision past (`approval.on`). */
export const ApprovalOn = z.enum(['severity', 'limit', 'budget']);

export const Approval = z
  .strictObject({
    on: z
      .array(ApprovalOn)
      .optional()
      .describe('Decisions these guardrails stop wait for a person instead: severity (the severity gate), limit (blast radius, min-healthy), budget.'),
    expires: Duration.default('30m').describe('An approval unused this long after it was given expires.'),
    to: Name.optional().describe("The channel that hears approval requests (default: the rule's escalate.to, else defaults.escalate_to)."),
  })
  .describe('When a person may say "yes, do it" (reflex approve ID), and for how long.');

export const Rule = z.strictObject({
  name: Name,
  description: z.string().optional(),
  runbook: z.string().optional().describe('A link to the SOP this rule encodes.'),
  target: TargetSelector,
  when: Conditions.describe('The problem: named conditions that must all hold.'),
  context: Conditions.optional().describe('Safety and context checks (dependencies, aggregates) that must also hold to act.'),
  for: ForSpec.optional(),
  severity: Severity.optional(),
  mode: RuleMode.optional(),
  do: z.array(Step).optional().describe('Actions, run in order.'),
  limits: RuleLimits.optional(),
  verify: Verify.optional(),
  approval: Approval.optional(),
  escalate: z.union([Name, Escalation]).optional(),
  derive: FactName.optional().describe('Set this fact on the target instead of acting.'),
  value: Cel.optional().describe('For derive rules: the value of the fact (default: true when matched, false when not).'),
  labels: z.record(z.string(), z.string()).optional(),
});

export const RuleFile = z.strictObject({
  $schema: z.string().optional(),
  aggregates: z.array(Aggregate).default([]),
  groups: z.array(Group).default([]),
  rules: z.array(Rule).default([]),
});

export type Config = z.output<typeof Config>;
export type FactTypeName = z.output<typeof FactType>;
export type SourceConfig = z.output<typeof Source>;
export type ActionConfig = z.output<typeof Action>;
export type ChannelConfig = z.output<typeof Channel>;
export type RuleConfig = z.output<typeof Rule>;
export type RuleLimitsConfig = z.output<typeof RuleLimits>;
export type RuleFileConfig = z.output<typeof RuleFile>;
export type AggregateConfig = z.output<typeof Aggregate>;
export type GroupConfig = z.output<typeof Group>;
export type StepConfig = z.output<typeof Step>;
export type EscalationConfig = z.output<typeof Escalation>;
export type GuardrailsConfig = z.output<typeof Guardrails>;
export type MetricsConfig = z.output<typeof Metrics>;
export type DefaultsConfig = z.output<typeof Defaults>;
