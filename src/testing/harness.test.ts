// The scenario's stand-ins: facts reported by the source that would report them, scripted action outcomes.
import { describe, expect, it } from 'vitest';
import { Config } from '../config/schema.js';
import { SourceError } from '../sources/types.js';
import { ScenarioWorld, ScriptedExecutor, scriptedOutcome } from './harness.js';

const config = Config.parse({
  sources: [
    { name: 'inventory', kind: 'inventory', path: 'inventory.yaml' },
    { name: 'health', kind: 'command', argv: ['x'], facts: ['healthy'] },
    { name: 'alerts', kind: 'alertmanager', url: 'http://127.0.0.1:9093' },
  ],
});
const targets = [{ id: 'a', kind: 'instance', labels: { zone: 'z' }, depends_on: ['db'], facts: { healthy: true, cpu: 0.5, alerts: [] } }];
const ctx = { signal: new AbortController().signal, now: 0, projectDir: '.', env: {} };

describe('ScenarioWorld', () => {
  it('gives each fact to the source that declares it, the rest to the first source that cannot say (an inventory)', async () => {
    const w = new ScenarioWorld(targets, config);
    expect([w.sourceOf('healthy'), w.sourceOf('alerts'), w.sourceOf('cpu')]).toEqual(['health', 'alerts', 'inventory']);
    const [structure, inventory, health] = w.sources(new Set(), 'k');
    expect((await structure!.collect(ctx)).targets).toEqual([{ id: 'a', kind: 'instance', labels: { zone: 'z' }, depends_on: ['db'] }]);
    expect((await inventory!.collect(ctx)).targets).toEqual([{ id: 'a', facts: { cpu: 0.5 } }]);
    expect((await health!.collect(ctx)).targets).toEqual([{ id: 'a', facts: { healthy: true } }]);
  });

  it('a source that is down fails, and still declares the facts it would have reported', async () => {
    const w = new ScenarioWorld(targets, config);
    const health = w.sources(new Set(['health']), 'k')[2]!;
    await expect(health.collect(ctx)).rejects.toBeInstanceOf(SourceError);
    expect(health.declaredFacts()).toEqual(['healthy']);
  });

  it('null and unknown: make facts unknown with a reason; a later value makes them known again', async () => {
    const w = new ScenarioWorld(targets, config);
    w.apply({ facts: { a: { healthy: null } }, unknown: { a: ['cpu'] } }, 'step 2');
    const s = w.sources(new Set(), 'k');
    expect((await s[2]!.collect(ctx)).targets).toEqual([{ id: 'a', unknown: { healthy: 'made unknown by the scenario in step 2' } }]);
    expect((await s[1]!.collect(ctx)).targets).toEqual([{ id: 'a', unknown: { cpu: 'made unknown by the scenario in step 2' } }]);
    w.apply({ facts: { a: { healthy: false } } }, 'step 3');
    expect((await w.sources(new Set(), 'k')[2]!.collect(ctx)).targets).toEqual([{ id: 'a', facts: { healthy: false } }]);
  });

  it('every run gets a fresh fingerprint, so a source cooldown never replays an earlier step', () => {
    const w = new ScenarioWorld(targets, config);
    expect(w.sources(new Set(), 'run-1')[1]!.fingerprint).not.toBe(w.sources(new Set(), 'run-2')[1]!.fingerprint);
  });
});

describe('ScriptedExecutor', () => {
  it('the most specific script wins: RULE/ACTION/TARGET, then ACTION/TARGET, then ACTION; success by default', () => {
    const x = new ScriptedExecutor({ restart: 'fail', 'restart/b': 'timeout', 'r2/restart/b': 'succeed' });
    expect(x.outcomeFor('r1', 'restart', 'a')).toBe('fail');
    expect(x.outcomeFor('r1', 'restart', 'b')).toBe('timeout');
    expect(x.outcomeFor('r2', 'restart', 'b')).toBe('succeed');
    expect(x.outcomeFor('r1', 'clean', 'a')).toBe('succeed');
  });
});

describe('scriptedOutcome', () => {
  const plan = (kind: string) => ({
    kind,
    describe: kind,
    detail: {},
    timeoutMs: 30_000,
    run: () => Promise.reject(new Error('a scripted action never runs')),
  });

  it('reports what the real action would: an exit code for exec, an HTTP status for http, the timeout it would have waited', () => {
    expect(scriptedOutcome(plan('exec'), 'succeed')).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect(scriptedOutcome(plan('exec'), 'fail')).toMatchObject({ status: 'failed', exitCode: 1, error: 'failed (scripted by the scenario)' });
    expect(scriptedOutcome(plan('http'), 'fail')).toMatchObject({ status: 'failed', httpStatus: 500 });
    expect(scriptedOutcome(plan('http'), 'timeout')).toMatchObject({
      status: 'timed_out',
      durationMs: 30_000,
      error: 'timed out after 30s (scripted by the scenario)',
    });
  });
});
