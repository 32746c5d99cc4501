// The files `reflex init` writes: a small project that passes `reflex check` and runs in dry-run as it is.

/** Relative path -> text. The JSON Schemas are added by the command, from the running version. */
export function starterFiles(): Record<string, string> {
  return {
    'reflex.yaml': CONFIG,
    'rules/starter.yaml': RULES,
    'inventory.yaml': INVENTORY,
    'rules/starter_test.yaml': SCENARIOS,
    '.gitignore': '# Reflex state: the SQLite store and escalations written by the log channel.\n.reflex/\n',
  };
}

const CONFIG = `# yaml-language-server: $schema=schema/config.schema.json
#
# Reflex configuration. The line above gives editors (VS Code with the YAML
# extension, or any editor using yaml-language-server) completion and checking.
# After upgrading Reflex, refresh the schemas:
#   reflex schema --kind config > schema/config.schema.json
#   reflex schema --kind rules  > schema/rules.schema.json
#   reflex schema --kind tests  > schema/tests.schema.json
#
# Check everything:   reflex check
# See what it would do: reflex run --dry-run
# Rule language:      docs/rules.md

store: .reflex/state.db          # SQLite, created on the first run; postgres://... to share it between runners

rules:
  - rules/*.yaml                 # rule files; *_test.yaml files are scenario tests for \`reflex test\`

sources:
  - name: inventory              # what exists, how it relates, and facts that change slowly
    kind: inventory
    path: inventory.yaml
  # - name: prometheus           # live facts from PromQL instant queries
  #   kind: prometheus
  #   url: http://127.0.0.1:9090
  #   queries:
  #     - fact: healthy
  #       query: up{job="shop"}    # 1 or 0 for every instance; "== 1" would drop the down ones (no series: unknown, never acted on)
  #       type: bool               # 1 -> true, 0 -> false, so rules read !facts.healthy

actions:
  restart-instance:
    description: Restart one instance. Replace echo with your real command; no shell is involved.
    kind: exec
    argv: [echo, restarting, "{{ params.instance }}"]
    params:
      instance: { pattern: "[a-z0-9-]+" }   # each value is checked against this before anything runs
    timeout: 30s
    cooldown: 30m                # at most one restart of the same instance per 30 minutes

channels:
  oncall:                        # escalations are appended to this file; see slack and pagerduty in docs
    kind: log
    path: .reflex/escalations.jsonl

defaults:
  mode: dry-run                  # new rules only say what they would do; set mode: enforce on a rule to let it act
  escalate_to: oncall

guardrails:
  max_severity: warning          # critical decisions go to a human
  budget_per_run: 5              # at most 5 actions in one run
`;

const RULES = `# yaml-language-server: $schema=../schema/rules.schema.json
#
# Rules are standard operating procedures: which targets a rule is for, the
# problem ("when"), the checks that make acting safe ("context"), and what to
# do. Every condition has a name, so every decision can be explained by name:
#   reflex why web-2

aggregates:
  - name: unhealthy_fraction     # read in conditions as agg.unhealthy_fraction
    description: Share of a service's instances that fail their health check.
    of: instance
    group_by: [service]          # instances with the same "service" label form a group
    function: fraction
    where: "!facts.healthy"

rules:
  # A derive rule sets a fact that other rules read: here facts.db_slow.
  - name: db-slow
    target: { kind: datastore }
    derive: db_slow
    when:
      slow: facts.p99_latency_ms > 200

  - name: restart-unhealthy-instance
    description: An instance fails its health check. Restart it, unless restarting cannot help.
    target:
      kind: instance
      labels: { env: prod }
    when:
      unhealthy: "!facts.healthy"             # quoted: a YAML value cannot start with "!"
      few_restarts: facts.restarts_1h < 3     # restarted 3 times this hour: something else is wrong
    context:
      database_ok: depends_on.all(d, !d.facts.db_slow)
      not_widespread: agg.unhealthy_fraction < 0.5    # a service-wide outage is for a human
    # for: 2 runs                # act only when the problem was seen in two runs in a row (no flapping)
    severity: warning
    # mode: enforce              # uncomment once the dry-run decisions look right
    do:
      - action: restart-instance
        with: { instance: "{{ target.id }}" }
    escalate:
      on: [context, blocked, failed]   # tell a human when it may not act, or acting failed

  - name: page-on-slow-database
    description: The database is slow. Restarting instances will not help; a human must look.
    target: { kind: datastore }
    when:
      slow: facts.db_slow
    severity: critical
    escalate:
      to: oncall
      summary: "{{ target.id }} is slow: p99 {{ facts.p99_latency_ms }} ms"
`;

const INVENTORY = `# What exists: targets with their kind, labels, relations and slow-moving facts.
# In production, live facts (health, restarts) come from Prometheus or a command.
targets:
  - id: shop
    kind: service
    labels: { service: shop, env: prod }
    depends_on: [db-main]

  - { id: web-1, kind: instance, labels: { service: shop, env: prod }, depends_on: [db-main], facts: { healthy: true, restarts_1h: 0 } }
  - { id: web-2, kind: instance, labels: { service: shop, env: prod }, depends_on: [db-main], facts: { healthy: false, restarts_1h: 1 } }
  - { id: web-3, kind: instance, labels: { service: shop, env: prod }, depends_on: [db-main], facts: { healthy: true, restarts_1h: 0 } }

  - id: db-main
    kind: datastore
    labels: { service: shop-db, env: prod }
    facts: { p99_latency_ms: 35 }
`;

const SCENARIOS = `# yaml-language-server: $schema=../schema/tests.schema.json
#
# Scenario tests for the starter rules: run them with \`reflex test\` (in CI too).
# Each scenario is a situation the SOP must handle. Each step is one run of the
# real engine and guardrails at a time on a synthetic clock, with the facts you
# give; nothing is executed and nobody is paged. A step's "expect:" lists the
# decisions that run must make, and any action it does not list fails the step.
# Docs: docs/testing-rules.md

targets:                         # like inventory.yaml, with the live facts too
  - { id: shop, kind: service, labels: { service: shop, env: prod }, depends_on: [db-main] }
  - { id: web-1, kind: instance, labels: { service: shop, env: prod }, depends_on: [db-main], facts: { healthy: true, restarts_1h: 0 } }
  - { id: web-2, kind: instance, labels: { service: shop, env: prod }, depends_on: [db-main], facts: { healthy: true, restarts_1h: 0 } }
  - { id: web-3, kind: instance, labels: { service: shop, env: prod }, depends_on: [db-main], facts: { healthy: true, restarts_1h: 0 } }
  - { id: db-main, kind: datastore, labels: { service: shop-db, env: prod }, facts: { p99_latency_ms: 35 } }

scenarios:
  - name: an unhealthy instance would be restarted
    # The rule is still in dry-run mode: it only says what it would do.
    steps:
      - at: 0m
        facts:
          web-2: { healthy: false, restarts_1h: 1 }
        expect:
          - { rule: restart-unhealthy-instance, target: web-2, outcome: dry_run, action: restart-instance }

  - name: once promoted, it restarts, and not again within the cooldown
    mode: enforce                # every rule as if it had mode: enforce
    steps:
      - at: 0m
        facts:
          web-2: { healthy: false }
        expect:
          - { rule: restart-unhealthy-instance, target: web-2, outcome: executed }
      - at: 10m                  # still unhealthy 10 minutes later: the 30m cooldown holds
        expect:
          - { rule: restart-unhealthy-instance, target: web-2, outcome: cooled_down, reason: cooldown }

  - name: a slow database goes to a human, and no instance is restarted
    mode: enforce
    steps:
      - at: 0m
        facts:
          db-main: { p99_latency_ms: 450 }
          web-2: { healthy: false }
        expect:
          - { rule: db-slow, target: db-main, outcome: derived, value: true }
          - { rule: restart-unhealthy-instance, target: web-2, outcome: blocked, reason: context }
          - { rule: page-on-slow-database, target: db-main, outcome: escalated }
`;
