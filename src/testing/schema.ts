// The schema of scenario test files (`reflex test`): types, validation and the editors' JSON Schema all come from here.
import { z } from 'zod';
import { Duration } from '../config/schema.js';

/** Outcomes a decision can end in (model.ts DecisionOutcome), plus `no_action`: anything that does not act. */
export const EXPECTED_OUTCOMES = [
  'executed',
  'failed',
  'dry_run',
  'blocked',
  'cooled_down',
  'escalated',
  'deferred',
  'awaiting_approval',
  'unknown',
  'pending',
  'matched',
  'not_matched',
  'derived',
  'interrupted',
  'no_action',
] as const;

const Name = z.string().min(1);

/** A target, as an inventory lists it. */
export const TargetDef = z
  .strictObject({
    id: Name.describe('The target id, unique in the scenario.'),
    kind: Name.describe('instance, service, datastore...: decides which rules apply.'),
    labels: z.record(z.string(), z.string()).optional(),
    depends_on: z.array(z.string()).optional().describe('Ids of the targets this one depends on.'),
    facts: z.record(z.string(), z.unknown()).optional().describe('Facts at the start of every scenario; a step changes them.'),
  })
  .describe('A target, as an inventory lists it.');

/** One disable, as `reflex disable` makes it: exactly one of rule, action, target, selector. */
export const DisableDef = z
  .strictObject({
    rule: Name.optional(),
    action: Name.optional(),
    target: Name.optional(),
    selector: z.record(z.string(), z.string()).optional().describe('Targets with all of these labels.'),
    reason: z.string().optional(),
    by: z.string().optional(),
    until: Duration.optional().describe('Expires this long after it is made (default: never).'),
  })
  .describe('A disable (one of rule, action, target or selector), as `reflex disable` makes it.');

export const EnableDef = z
  .strictObject({
    rule: Name.optional(),
    action: Name.optional(),
    target: Name.optional(),
    selector: z.record(z.string(), z.string()).optional(),
  })
  .describe('Lift a disable, as `reflex enable` does.');

export const SwitchDef = z
  .strictObject({
    off: z.boolean().describe('true: the global off switch is on, nothing acts.'),
    reason: z.string().optional(),
    by: z.string().optional(),
    until: Duration.optional(),
  })
  .describe('The global off switch, as `reflex disable --all` / `reflex enable --all` set it.');

export const CooldownDef = z
  .strictObject({
    rule: Name,
    target: Name,
    action: Name.optional().describe('Default: every action of the rule.'),
    ago: Duration.optional().describe('The action ran this long before the scenario starts (default 0s).'),
    left: Duration.optional().describe('Or: this much of the cooldown is left when the scenario starts.'),
  })
  .describe('A cooldown in force when the scenario starts.');

export const ExecutionDef = z
  .strictObject({
    rule: Name,
    target: Name,
    action: Name.optional().describe("Default: the rule's first action."),
    ago: Duration.default('0s').describe('When it started, before the scenario starts.'),
    status: z
      .enum(['succeeded', 'failed', 'timed_out', 'running'])
      .default('succeeded')
      .describe('running: left unfinished by a crashed run (the first step recovers it).'),
  })
  .describe('An earlier execution in the journal (it counts for cooldowns, limits and the failure breaker).');

export const StateDef = z
  .strictObject({
    switch: SwitchDef.optional(),
    disables: z.array(DisableDef).optional(),
    cooldowns: z.array(CooldownDef).optional(),
    executions: z.array(ExecutionDef).optional(),
  })
  .describe('The state the scenario starts from.');

export const ActionScript = z
  .record(z.string(), z.enum(['succeed', 'fail', 'timeout']))
  .describe('How actions end: ACTION, ACTION/TARGET or RULE/ACTION/TARGET -> succeed | fail | timeout (default succeed).');

export const ChannelScript = z
  .record(z.string(), z.enum(['succeed', 'fail']))
  .describe('How escalations to a channel end: CHANNEL -> succeed | fail (default succeed).');

export const Expectation = z
  .strictObject({
    rule: Name,
    target: z.union([Name, z.array(Name).min(1)]).describe('A target id, or a list of them (the same expectation for each).'),
    outcome: z.enum(EXPECTED_OUTCOMES).describe("The decision's outcome; no_action: any outcome that does not act."),
    reason: z.string().optional().describe("A named reason in the decision's trace: cooldown, context, switch:off, breaker:widespread..."),
    detail: z.string().optional().describe('Text the trace must contain.'),
    action: Name.optional().describe('The action that ran (or would run).'),
    escalated: z.union([z.boolean(), Name]).optional().describe("The decision paged a human in this step (true, or the channel's name), or did not (false)."),
    value: z.unknown().optional().describe('For derive rules: the value of the fact it set.'),
    verification: z
      .enum(['pending', 'passed', 'ineffective', 'none'])
      .optional()
      .describe("The state of the latest verification (verify:) of the rule's actions on the target after this step; none: there is none."),
    approval: z
      .enum(['pending', 'approved', 'rejected', 'used', 'expired', 'refused', 'withdrawn', 'none'])
      .optional()
      .describe('The state of the latest approval of the rule on the target after this step; none: there is none.'),
  })
  .describe('What one rule must decide about one target in this step.');

/** A person's answer to a decision awaiting approval, as `reflex approve` / `reflex reject` give it, before the step's run. */
export const AnswerDef = z
  .strictObject({
    rule: Name,
    target: Name,
    reason: z.string().optional(),
    by: z.string().optional(),
    expires: Duration.optional().describe("approve only: how long it lasts (default: the rule's approval.expires)."),
  })
  .describe('The pending approval of this rule on this target, answered before the run of this step.');

export const EscalationExpectation = z
  .strictObject({
    to: Name.optional().describe('The channel.'),
    rule: Name.optional(),
    target: Name.optional(),
    event: z.enum(['trigger', 'resolve']).default('trigger'),
    summary: z.string().optional().describe('Text the summary must contain.'),
  })
  .describe('One message to humans sent in this step.');

export const StepDef = z
  .strictObject({
    name: z.string().optional().describe('What happens in this step (shown in failures).'),
    at: Duration.optional().describe('When this run starts, after the scenario starts (0m, 10m, 1h).'),
    run: z.number().int().min(1).optional().describe('Or: the run number; run N starts at (N-1) x interval.'),
    facts: z
      .record(z.string(), z.record(z.string(), z.unknown()))
      .optional()
      .describe('target -> fact -> value: changes to the facts of the previous step; null makes a fact unknown.'),
    unknown: z.record(z.string(), z.array(z.string())).optional().describe('target -> facts that become unknown.'),
    source_down: z.array(Name).optional().describe('Sources that fail in this step: their facts are unknown.'),
    actions: ActionScript.optional(),
    channels: ChannelScript.optional(),
    switch: SwitchDef.optional(),
    disable: z.array(DisableDef).optional(),
    enable: z
      .array(EnableDef)
      .optional()
      .describe('Lift disables, as `reflex enable` does (a rule or target also lets it act again where an action did not help).'),
    approve: z.array(AnswerDef).optional().describe('Approve pending approvals before this run, as `reflex approve ID` does.'),
    reject: z.array(AnswerDef).optional().describe('Reject pending approvals before this run, as `reflex reject ID` does.'),
    expect: z.array(Expectation).optional().describe('Decisions this run must make. Any action not listed here fails the step (an empty list: nothing acts).'),
    no_action: z.boolean().optional().describe('true: nothing acts in this step.'),
    escalations: z.array(EscalationExpectation).optional().describe('Every message sent to humans in this step (an empty list: none).'),
  })
  .describe('One run of the engine at a point of the synthetic clock, and what it must decide.');

export const ScenarioDef = z
  .strictObject({
    name: Name.describe('What the scenario shows, e.g. "a second restart waits for the cooldown".'),
    description: z.string().optional(),
    mode: z
      .enum(['configured', 'enforce'])
      .default('configured')
      .describe('configured: rules keep their mode (shadow rules end in dry_run); enforce: every rule acts as if promoted.'),
    start: z.string().optional().describe("When the synthetic clock starts (ISO time). Default: the file's, or 2026-01-01T00:00:00Z."),
    interval: Duration.optional().describe("Time between runs given by `run:` or by neither `at:` nor `run:`. Default: the file's."),
    targets: z.array(TargetDef).optional().describe("The targets (default: the file's)."),
    state: StateDef.optional(),
    actions: ActionScript.optional().describe("How actions end in every step (a step's own `actions:` override these)."),
    steps: z.array(StepDef).min(1),
  })
  .describe('One situation, run step by step on a fresh store.');

export const ScenarioFile = z.strictObject({
  $schema: z.string().optional(),
  config: z.string().optional().describe('The reflex.yaml under test, relative to this file (default: the nearest reflex.yaml above it).'),
  rule_files: z
    .array(z.string())
    .optional()
    .describe("Only these rule files of the configuration, relative to this file (default: all of the configuration's)."),
  start: z.string().optional().describe('When the synthetic clock starts (ISO time, default 2026-01-01T00:00:00Z).'),
  interval: Duration.default('1m').describe('Time between runs given by `run:` or by neither `at:` nor `run:`.'),
  targets: z.array(TargetDef).optional().describe('Targets shared by every scenario of the file.'),
  scenarios: z.array(ScenarioDef).min(1),
});

export type ScenarioFileConfig = z.output<typeof ScenarioFile>;
export type ScenarioConfig = z.output<typeof ScenarioDef>;
export type StepConfig = z.output<typeof StepDef>;
export type ExpectationConfig = z.output<typeof Expectation>;
export type EscalationExpectationConfig = z.output<typeof EscalationExpectation>;
export type TargetConfig = z.output<typeof TargetDef>;
export type DisableConfig = z.output<typeof DisableDef>;
export type EnableConfig = z.output<typeof EnableDef>;
export type AnswerConfig = z.output<typeof AnswerDef>;
export type SwitchConfig = z.output<typeof SwitchDef>;
export type StateConfig = z.output<typeof StateDef>;
