// The API's data shapes, written once in zod: requests are validated with them and the OpenAPI document is generated
// from them (GET /api/v1/openapi.json). They describe the store's records as `reflex ... --json` prints them.
import { z } from '@hono/zod-openapi';

const Json = z.unknown().openapi({ description: 'any JSON value' });
const Obj = z.record(z.string(), z.unknown());
const Ms = z.number().int().openapi({ description: 'milliseconds since the epoch' });

export const Verdict = z
  .object({ stage: z.string(), reason: z.string(), detail: z.string(), stops: z.boolean().optional() })
  .passthrough()
  .openapi('Verdict', { description: "one stage's word on a decision (the trace `reflex why` prints)" });

export const Condition = z
  .object({
    name: z.string(),
    expr: z.string(),
    result: z.union([z.boolean(), z.literal('unknown')]),
    inputs: z.record(z.string(), Json).optional(),
    unknown: z.string().optional(),
  })
  .passthrough()
  .openapi('Condition');

export const Decision = z
  .object({
    runId: z.number().int(),
    target: z.string(),
    rule: z.string(),
    outcome: z.string().openapi({
      description: 'matched, not_matched, unknown, pending, derived, dry_run, blocked, cooled_down, escalated, deferred, executed, failed, interrupted',
    }),
    severity: z.string(),
    conditions: z.array(Condition),
    trace: z.array(Verdict),
    actions: z.array(z.object({ action: z.string(), describe: z.string(), executionId: z.number().int().optional() })).optional(),
    at: Ms,
  })
  .openapi('Decision');

export const Run = z
  .object({
    id: z.number().int(),
    startedAt: Ms,
    finishedAt: Ms.nullable(),
    status: z.string().openapi({ description: 'running, ok, failed or interrupted' }),
    mode: z.enum(['dry-run', 'enforce']),
    holder: z.string(),
    ruleSetHash: z.string(),
    summary: Obj.openapi({ description: 'the run summary of `reflex run --json`: targets, outcomes, rules, sources, problems, timingsMs' }),
    shard: z.string().nullable().optional(),
  })
  .openapi('Run');

export const Execution = z
  .object({
    id: z.number().int(),
    key: z.string(),
    runId: z.number().int(),
    rule: z.string(),
    action: z.string(),
    step: z.number().int(),
    target: z.string(),
    kind: z.string(),
    describe: z.string(),
    status: z.string().openapi({ description: 'intent, running, succeeded, failed, timed_out or interrupted' }),
    detail: Obj,
    cooldownKey: z.string(),
    cooldownMs: z.number(),
    groups: z.array(z.string()),
    createdAt: Ms,
    startedAt: Ms.nullable(),
    finishedAt: Ms.nullable(),
    exitCode: z.number().int().nullable(),
    httpStatus: z.number().int().nullable(),
    durationMs: z.number().nullable(),
    output: z.string().nullable(),
    error: z.string().nullable(),
    shard: z.string().nullable().optional(),
  })
  .passthrough()
  .openapi('Execution');

export const Switch = z
  .object({ off: z.boolean(), by: z.string().nullable(), reason: z.string().nullable(), at: Ms.nullable(), until: Ms.nullable() })
  .openapi('Switch');

export const Disable = z
  .object({
    id: z.number().int(),
    scope: z.enum(['rule', 'action', 'target', 'selector']),
    value: z.string(),
    selector: z.record(z.string(), z.string()).nullable(),
    by: z.string(),
    reason: z.string(),
    createdAt: Ms,
    until: Ms.nullable(),
    removedAt: Ms.nullable(),
    removedBy: z.string().nullable(),
  })
  .openapi('Disable');

export const Audit = z.object({ id: z.number().int(), at: Ms, by: z.string(), action: z.string(), detail: Obj }).openapi('AuditEntry');

export const Escalation = z
  .object({
    dedupKey: z.string(),
    channel: z.string(),
    status: z.enum(['open', 'resolved']),
    summary: z.string(),
    firstAt: Ms,
    lastAt: Ms,
    count: z.number().int(),
    resolvedAt: Ms.nullable().optional(),
  })
  .openapi('Escalation');

export const Approval = z
  .object({
    id: z.number().int(),
    rule: z.string(),
    target: z.string(),
    guard: z
      .enum(['mode', 'severity', 'limit', 'budget'])
      .openapi({ description: 'what asked: the rule (mode: approve), the severity gate, a limit, the budget' }),
    why: z.string().openapi({ description: "the guard's words when it asked" }),
    severity: z.string(),
    actions: z.array(z.object({ action: z.string(), describe: z.string() })).openapi({ description: 'the actions with their rendered parameters' }),
    fingerprint: z.string(),
    facts: Obj,
    askedAt: Ms,
    askedRun: z.number().int(),
    expiresMs: z.number().openapi({ description: 'how long an approval lasts once given' }),
    status: z.enum(['pending', 'approved', 'rejected', 'used', 'expired', 'refused', 'withdrawn']),
    by: z.string().nullable(),
    decidedAt: Ms.nullable(),
    reason: z.string().nullable(),
    expiresAt: Ms.nullable(),
    usedAt: Ms.nullable(),
    usedRun: z.number().int().nullable(),
    executionId: z.number().int().nullable(),
    note: z.string().nullable(),
    closedAt: Ms.nullable(),
    clearedAt: Ms.nullable(),
  })
  .openapi('Approval', { description: 'an approval request (as `reflex approvals --json`)' });

export const Verification = z
  .object({
    executionId: z.number().int(),
    runId: z.number().int(),
    rule: z.string(),
    target: z.string(),
    action: z.string(),
    describe: z.string(),
    startedAt: Ms,
    withinRuns: z.number().int().nullable(),
    withinMs: z.number().nullable(),
    expect: z.string(),
    status: z.enum(['pending', 'passed', 'ineffective']),
    runsChecked: z.number().int(),
    checkedAt: Ms.nullable(),
    settledAt: Ms.nullable(),
    detail: z.string().nullable(),
    facts: Obj.nullable(),
    clearedAt: Ms.nullable(),
    clearedBy: z.string().nullable(),
  })
  .openapi('Verification', { description: 'whether a succeeded execution fixed the problem (verify:)' });

export const Approvals = z
  .object({ now: Ms, pending: z.array(Approval), recent: z.array(Approval) })
  .openapi('Approvals', { description: 'pending requests (oldest first) and recent answered or closed ones (newest first)' });

export const Verifications = z
  .object({
    now: Ms,
    stopping: z.array(Verification).openapi({ description: 'ineffective and not cleared: each stops its rule on its target (verify:ineffective)' }),
    recent: z.array(Verification),
  })
  .openapi('Verifications');

const Stopped = z.object({
  reason: z.string(),
  detail: z.string(),
  count: z.number().int(),
  examples: z.array(z.object({ rule: z.string(), target: z.string() })),
});

export const Overview = z
  .object({
    now: Ms,
    automation: z.enum(['on', 'off']),
    switch: Switch,
    switchText: z.string().nullable(),
    lastRun: Run.extend({ ageMs: z.number() }).nullable(),
    escalations: z.array(Escalation),
    breakers: z.object({ run: z.number().int().nullable(), stopped: z.array(Stopped) }),
    interrupted: z.array(Execution),
    shadow: z.object({ run: z.number().int().nullable(), decisions: z.array(Decision) }),
    recent: z.array(z.object({ id: z.number().int(), startedAt: Ms, status: z.string(), mode: z.string(), outcomes: z.record(z.string(), z.number()) })),
    activeDisables: z.number().int(),
    pendingApprovals: z.number().int(),
    ineffective: z.number().int(),
  })
  .openapi('Overview');

export const Page = <T extends z.ZodTypeAny>(item: T) => z.object({ page: z.number().int(), more: z.boolean(), items: z.array(item) });

export const RunDetail = z
  .object({
    run: Run,
    rules: z.array(z.object({ rule: z.string(), counts: z.record(z.string(), z.number()) })),
    sources: z.array(
      z
        .object({
          name: z.string(),
          kind: z.string(),
          status: z.string(),
          durationMs: z.number(),
          targets: z.number(),
          error: z.string().optional(),
          warnings: z.array(z.string()),
        })
        .passthrough(),
    ),
    timings: z.array(z.object({ stage: z.string(), ms: z.number() })),
    problems: z.array(Obj),
  })
  .openapi('RunDetail');

export const DecisionsPage = z
  .object({
    page: z.number().int(),
    more: z.boolean(),
    run: z.number().int().nullable().openapi({ description: 'the run the list is of, or null for all runs' }),
    total: z.number().int().nullable(),
    items: z.array(Decision),
  })
  .openapi('DecisionsPage');

export const Why = z
  .object({
    run: z.number().int(),
    at: z.string(),
    rulesChangedSince: z.boolean(),
    target: z
      .object({
        id: z.string(),
        kind: z.string(),
        labels: z.record(z.string(), z.string()),
        depends_on: z.array(z.string()),
        facts: z.record(z.string(), Json),
        unknown: z.record(z.string(), z.string()).optional(),
      })
      .passthrough(),
    factSources: z.record(z.string(), z.string()),
    decisions: z.array(Decision),
    executions: z.array(Execution),
  })
  .openapi('Why', { description: 'the document of `reflex why TARGET --run N --json`' });

export const TargetHistory = z
  .object({
    id: z.string(),
    seen: z.object({ run: z.number().int(), kind: z.string(), labels: z.record(z.string(), z.string()), depends_on: z.array(z.string()) }).nullable(),
    decisions: z.array(Decision),
    executions: z.array(Execution),
    verifications: z.array(Verification),
    approvals: z.array(Approval),
    more: z.boolean(),
  })
  .openapi('TargetHistory');

export const Guardrails = z
  .object({
    now: Ms,
    switch: Switch,
    automation: z.enum(['on', 'off']),
    switchText: z.string().nullable(),
    disables: z.array(Disable.extend({ text: z.string(), active: z.boolean() })),
    audit: z.array(Audit),
  })
  .openapi('Guardrails');

export const Rule = z
  .object({
    name: z.string(),
    kind: z.enum(['act', 'escalate', 'derive']),
    mode: z.string(),
    severity: z.string(),
    actions: z.array(z.string()),
    file: z.string(),
    tests: z.object({ tested: z.boolean(), passing: z.boolean(), fired: z.boolean() }).nullable(),
    enforcedUntested: z.boolean(),
  })
  .openapi('Rule');

export const ApiError = z.object({ error: z.string() }).openapi('Error');

// ---- requests

const By = z.string().max(64).optional().openapi({ description: 'who, for the audit log (bearer requests; default "api"); a session uses its login name' });

export const SwitchRequest = z
  .object({
    off: z.boolean().openapi({ description: 'true: switch all automation off; false: back on' }),
    reason: z.string().max(1000).optional().openapi({ description: 'required to switch off' }),
    until: z.string().optional().openapi({ description: 'a duration (2h) or an ISO time; switching off only' }),
    by: By,
  })
  .openapi('SwitchRequest');

export const DisableRequest = z
  .object({
    scope: z.enum(['rule', 'action', 'target', 'selector']),
    value: z.string().min(1).max(500).openapi({ description: 'rule name, action name, target id, or labels as k=v,k2=v2' }),
    reason: z.string().min(1).max(1000),
    until: z.string().optional(),
    by: By,
  })
  .openapi('DisableRequest');

export const EnableRequest = z.object({ reason: z.string().max(1000).optional(), by: By }).openapi('EnableRequest');

export const AnswerRequest = z
  .object({
    reason: z.string().min(1).max(1000).openapi({ description: 'why (kept with the approval and in the audit log)' }),
    expires: z.string().max(50).optional().openapi({ description: "approve only: how long the approval lasts (30m); default the rule's approval.expires" }),
    by: By,
  })
  .openapi('AnswerRequest');

export const ClearRequest = z
  .object({ rule: z.string().min(1).max(500), target: z.string().min(1).max(500), reason: z.string().max(1000).optional(), by: By })
  .openapi('ClearVerificationRequest');

export const PageQuery = z.coerce.number().int().min(0).max(100_000).optional().openapi({ description: 'page number, from 0 (50 per page)' });
