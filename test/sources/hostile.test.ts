// Hostile source data (issue 13.5): deep nesting, numbers out of range, huge files, prototype keys, values of the wrong type.
// Each costs the facts of its own record (unknown, with a precise reason) or its own source, never the run.
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Target } from '../../src/model.js';
import { collectAll, createSource } from '../../src/sources/index.js';
import { fixture } from '../helpers.js';
import { baseOpts, fakeSource, sendJson, startServer, type TestServer } from './helpers.js';

const node = process.execPath;
const DEEP = 100_000;
const deepJson = (n = DEEP) => `${'['.repeat(n)}${']'.repeat(n)}`;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function collect(config: object, dir: string) {
  const res = await collectAll([createSource({ name: 'src', ...config } as never)], { ...baseOpts, projectDir: dir, defaultTimeoutMs: 20_000 });
  // The run stores and explains what was collected: it must serialise whatever the data was.
  expect(() => JSON.stringify(res)).not.toThrow();
  return res;
}

const byId = (targets: Target[], id: string) => targets.find((t) => t.id === id)!;

describe('hostile source data', () => {
  it('a fact nested 100,000 levels deep in a JSON inventory is unknown there, with the limit; the rest of the file counts', async () => {
    const dir = fixture({
      'inv.json': `{"targets": [{"id": "deep", "facts": {"blob": ${deepJson()}, "restarts": 1}}, {"id": "fine", "facts": {"restarts": 2}}]}`,
    });
    const res = await collect({ kind: 'inventory', path: 'inv.json' }, dir);
    expect(res.reports[0]).toMatchObject({ status: 'ok', malformed: 1 });
    const deep = byId(res.targets, 'deep');
    expect(deep.facts).toEqual({ restarts: 1 });
    expect(deep.unknown?.blob).toBe('inv.json:1:47: the value is nested deeper than the limit of 32 levels (max_depth)');
    expect(byId(res.targets, 'fine').facts).toEqual({ restarts: 2 });
    expect(res.reports[0]!.problems).toEqual(['inv.json:1:47: fact `blob`: the value is nested deeper than the limit of 32 levels (max_depth)']);
  });

  it('max_depth sets the nesting limit', async () => {
    const dir = fixture({ 'inv.json': '[{"id": "a", "facts": {"x": [[1]], "y": [[[1]]]}}]' });
    const res = await collect({ kind: 'inventory', path: 'inv.json', max_depth: 2 }, dir);
    expect(res.targets[0]!.facts).toEqual({ x: [[1]] });
    expect(res.targets[0]!.unknown?.y).toMatch(/nested deeper than the limit of 2 levels/);
  });

  it('a YAML inventory nested too deeply to parse fails that source with its position, not the run', async () => {
    const dir = fixture({ 'inv.yaml': `targets:\n  - id: a\n    facts:\n      x: ${deepJson()}\n` });
    const res = await collect({ kind: 'inventory', path: 'inv.yaml' }, dir);
    expect(res.reports[0]).toMatchObject({ status: 'failed' });
    expect(res.reports[0]!.error).toMatch(/^inv\.yaml:4:\d+: invalid YAML: the document is nested too deeply to read$/);
  });

  it('a command printing a fact nested 100,000 levels deep: that fact is unknown, the other records count', async () => {
    const dir = fixture({
      'deep.mjs': `process.stdout.write('[{"id":"deep","facts":{"x":' + '['.repeat(${DEEP}) + ']'.repeat(${DEEP}) + '}},{"id":"ok","facts":{"x":1}}]');`,
    });
    const res = await collect({ kind: 'command', argv: [node, 'deep.mjs'] }, dir);
    expect(res.reports[0]).toMatchObject({ status: 'ok', malformed: 1 });
    expect(byId(res.targets, 'deep').unknown?.x).toMatch(/output \[0\]\.facts\.x: the value is nested deeper than the limit/);
    expect(byId(res.targets, 'ok').facts).toEqual({ x: 1 });
  });

  it('-1e400 (and YAML .inf, .nan) is unknown with the reason, never used as -Infinity', async () => {
    const dir = fixture({
      'inv.json': '[{"id": "a", "facts": {"restarts": -1e400, "ok": 1}}, {"id": "b", "facts": {"restarts": 1e400}}, {"id": "c", "facts": {"l": [1, -1e999]}}]',
      'inv.yaml': 'targets:\n  - { id: a, facts: { restarts: -.inf } }\n  - { id: b, facts: { restarts: .nan } }\n',
      'cmd.mjs': `process.stdout.write('[{"id":"a","facts":{"restarts":-1e400}}]');`,
    });
    const json = await collect({ kind: 'inventory', path: 'inv.json' }, dir);
    expect(byId(json.targets, 'a').facts).toEqual({ ok: 1 });
    expect(byId(json.targets, 'a').unknown?.restarts).toMatch(/^inv\.json:1:\d+: the number is out of range \(-Infinity, e\.g\. 1e400 written in the data\)$/);
    expect(byId(json.targets, 'b').unknown?.restarts).toMatch(/out of range \(\+Infinity/);
    expect(byId(json.targets, 'c').unknown?.l).toMatch(/out of range \(-Infinity/);
    const yaml = await collect({ kind: 'inventory', path: 'inv.yaml' }, dir);
    expect(byId(yaml.targets, 'a').unknown?.restarts).toMatch(/^inv\.yaml:2:\d+: the number is out of range/);
    expect(byId(yaml.targets, 'b').unknown?.restarts).toMatch(/the value is NaN/);
    const cmd = await collect({ kind: 'command', argv: [node, 'cmd.mjs'] }, dir);
    expect(cmd.targets[0]!.facts).toEqual({});
    expect(cmd.targets[0]!.unknown?.restarts).toMatch(/out of range/);
  });

  it('an inventory over the size limit is refused unread (a sparse 100 MB file, and max_bytes)', async () => {
    const dir = fixture({ 'small.json': JSON.stringify([{ id: 'a', facts: { pad: 'x'.repeat(4000) } }]) });
    writeFileSync(join(dir, 'huge.json'), '');
    truncateSync(join(dir, 'huge.json'), 100 * 1024 * 1024);
    const huge = await collect({ kind: 'inventory', path: 'huge.json' }, dir);
    expect(huge.reports[0]).toMatchObject({ status: 'failed' });
    expect(huge.reports[0]!.error).toBe(
      "huge.json: the file is 100 MiB, over the limit of 64 MiB (raise the source's max_bytes if it is meant to be this large)",
    );
    const small = await collect({ kind: 'inventory', path: 'small.json', max_bytes: '2KiB' }, dir);
    expect(small.reports[0]!.error).toMatch(/^small\.json: the file is 3\.9 KiB, over the limit of 2 KiB/);
    expect((await collect({ kind: 'inventory', path: 'small.json', max_bytes: 8192 }, dir)).reports[0]!.status).toBe('ok');
  });

  it('a command printing more than max_bytes is stopped', async () => {
    const dir = fixture({ 'big.mjs': `process.stdout.write('[' + '"x",'.repeat(5000) + '"x"]');` });
    const res = await collect({ kind: 'command', argv: [node, 'big.mjs'], max_bytes: '1KiB' }, dir);
    expect(res.reports[0]!.error).toBe('the output is larger than the limit of 1024 bytes; the command was stopped');
  });

  it('a `__proto__` label costs its own entry its facts, not the whole inventory', async () => {
    const dir = fixture({
      'inv.json': '{"targets": [{"id": "a", "labels": {"__proto__": "x", "svc": "s"}, "facts": {"up": 1}}, {"id": "b", "facts": {"up": 0}}]}',
      'inv.yaml': 'targets:\n  - { id: a, labels: { __proto__: x }, facts: { up: 1 } }\n  - { id: b, facts: { up: 0 } }\n',
    });
    for (const file of ['inv.json', 'inv.yaml']) {
      const res = await collect({ kind: 'inventory', path: file }, dir);
      expect(res.reports[0], file).toMatchObject({ status: 'ok', malformed: 1 });
      const a = byId(res.targets, 'a');
      expect(a.facts, file).toEqual({});
      expect(a.unknown?.up, file).toMatch(/^malformed entry: inv\.(json|yaml):\d+:\d+: `__proto__` is not allowed as a label name$/);
      expect(Object.getPrototypeOf(a.labels), file).toBe(Object.prototype);
      expect(byId(res.targets, 'b').facts, file).toEqual({ up: 0 });
    }
  });

  it('facts and labels named like Object.prototype members are kept, but `constructor` is refused with the reason', async () => {
    // A map holding `constructor` is taken by the CEL library for another type: every condition reading it would be
    // unknown (and the compiled path would disagree), so the name is refused where the data comes in, like `__proto__`.
    const kept = [{ id: 'a', labels: { toString: 't', valueOf: 'v' }, facts: { hasOwnProperty: true, toString: 2, m: { toString: 1, valueOf: 2 } } }];
    const refused = [
      { id: 'b', facts: { up: 0, constructor: 1 } },
      { id: 'c', facts: { up: 0, m: { constructor: 1, a: 2 } } },
      { id: 'd', labels: { constructor: 'x', env: 'prod' }, facts: { up: 0 } },
    ];
    const doc = [...kept, ...refused];
    const dir = fixture({ 'inv.json': JSON.stringify(doc, null, 1), 'inv.yaml': `targets: ${JSON.stringify(doc)}\n` });
    for (const file of ['inv.json', 'inv.yaml']) {
      const res = await collect({ kind: 'inventory', path: file }, dir);
      expect(byId(res.targets, 'a').labels, file).toEqual(kept[0]!.labels);
      expect(byId(res.targets, 'a').facts, file).toEqual(kept[0]!.facts);
      // A fact named constructor makes the entry malformed, as `__proto__` does: its facts are unknown, with the position.
      const b = byId(res.targets, 'b');
      expect(b.facts, file).toEqual({});
      expect(b.unknown?.up, file).toMatch(/^malformed entry: inv\.(json|yaml):\d+:\d+: `constructor` is not allowed as a fact name/);
      // A value holding the key is unknown with the reason, and only that fact.
      const c = byId(res.targets, 'c');
      expect(c.facts, file).toEqual({ up: 0 });
      expect(c.unknown?.m, file).toMatch(
        /^inv\.(json|yaml):\d+:\d+: the key `constructor` is not allowed in a value \(conditions could not read the map holding it\)$/,
      );
      // A label named constructor makes the entry malformed, as `__proto__` does.
      const d = byId(res.targets, 'd');
      expect(d.labels, file).toEqual({ env: 'prod' });
      expect(d.unknown?.up, file).toMatch(/`constructor` is not allowed as a label name \(conditions could not read the map holding it\)$/);
      expect(res.reports[0]!.problems?.join('\n'), file).toMatch(/inv\.(json|yaml):\d+:\d+: `constructor` is not allowed as a fact name/);
    }
  });

  it('a live source cannot hand conditions a map holding `constructor`: the label is dropped and the fact unknown', async () => {
    const dir = fixture({
      'recs.mjs': `console.log(JSON.stringify({ targets: [{ id: 'x', labels: { constructor: 'c', env: 'prod' }, facts: { up: 0, constructor: 1, m: { constructor: 2 } } }] }));`,
    });
    const res = await collect({ kind: 'command', argv: [node, 'recs.mjs'] }, dir);
    const x = byId(res.targets, 'x');
    expect(x.labels).toEqual({ env: 'prod' });
    expect(x.facts).toEqual({});
    expect(x.unknown?.up).toMatch(/`constructor` is not allowed as a label name \(conditions could not read the map holding it\)/);
    expect(res.reports[0]).toMatchObject({ status: 'ok', malformed: 1 });
  });

  it('an http record with a `constructor` or `__proto__` key is read like any other record', async () => {
    server = await startServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        '[{"id": "a", "cpu": 3, "constructor": "x", "meta": {"constructor": {"a": 1}}}, {"id": "b", "cpu": 4, "__proto__": {"polluted": true}}, {"id": "c", "cpu": 5}]',
      );
    });
    const res = await collect(
      { kind: 'http', url: `${server.url}/x`, target: { keep_labels: ['constructor'] }, facts: { cpu: 'record.cpu', meta: 'record.?meta.orValue({})' } },
      '/',
    );
    expect(res.reports[0]).toMatchObject({ status: 'ok' });
    // The record itself is read (extraction sees `record.constructor`), but what would reach conditions cannot hold it.
    expect(byId(res.targets, 'a').facts).toEqual({ cpu: 3 });
    expect(byId(res.targets, 'a').unknown?.meta).toMatch(/the key `constructor` is not allowed in a value/);
    expect(byId(res.targets, 'a').labels ?? {}).toEqual({});
    expect(res.reports[0]!.malformed).toBe(1);
    expect(byId(res.targets, 'b').facts).toEqual({ cpu: 4, meta: {} });
    expect(byId(res.targets, 'c').facts).toEqual({ cpu: 5, meta: {} });
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('an http body nested 100,000 levels deep makes only the facts that reach into it unknown', async () => {
    server = await startServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(`[{"id": "a", "cpu": 1, "blob": ${deepJson()}}]`);
    });
    const res = await collect({ kind: 'http', url: `${server.url}/x`, facts: { cpu: 'record.cpu', blob: 'record.blob' } }, '/');
    expect(res.targets[0]!.facts).toEqual({ cpu: 1 });
    expect(res.targets[0]!.unknown?.blob).toMatch(/nested deeper than the limit of 32 levels/);
    expect(res.reports[0]!.malformed).toBe(1);
  });

  it('a record from a live source with a mistake makes that record’s facts unknown with the reason, counted as malformed', async () => {
    const dir = fixture({
      'recs.mjs': `console.log(JSON.stringify({ targets: [
        { id: 'web-1', kind: 'instance', labels: { customer: 'gold' }, facts: { stalled: true } },
        { id: 'web-2', kind: 'instance', lables: { customer: 'gold' }, facts: { stalled: true } },
        { id: 'web-3', kind: 'instance', labels: { zones: ['a', 'b'] }, facts: { stalled: false } },
        { kind: 'instance', facts: { stalled: true } },
      ] }));`,
    });
    const res = await collect({ kind: 'command', argv: [node, 'recs.mjs'] }, dir);
    expect(res.reports[0]).toMatchObject({ status: 'ok', malformed: 3, targets: 3 });
    expect(byId(res.targets, 'web-1').facts).toEqual({ stalled: true });
    expect(byId(res.targets, 'web-2')).toMatchObject({
      facts: {},
      unknown: { stalled: `malformed entry: ${node} output targets[1].lables: unknown field \`lables\`, did you mean \`labels\`?` },
    });
    expect(byId(res.targets, 'web-3').unknown?.stalled).toMatch(/label `zones` must be text, a number or a boolean, not a list/);
    expect(res.reports[0]!.problems).toHaveLength(3);
  });

  it('a value that is not of its declared type is unknown there, with what the source gave', async () => {
    const dir = fixture({
      'typed.mjs': `console.log(JSON.stringify([{ id: 'a', facts: { depth: 'n/a', ok: 1 } }, { id: 'b', facts: { depth: 5, ok: true } }]));`,
    });
    const res = await collect({ kind: 'command', argv: [node, 'typed.mjs'], facts: { depth: 'number', ok: 'bool' } }, dir);
    expect(byId(res.targets, 'a').facts).toEqual({});
    expect(byId(res.targets, 'a').unknown).toEqual({
      depth: 'declared `type: number`, but the source gave text ("n/a")',
      ok: 'declared `type: bool`, but the source gave a number (1)',
    });
    expect(byId(res.targets, 'b').facts).toEqual({ depth: 5, ok: true });
    expect(res.reports[0]!.malformed).toBe(1);
  });

  it('an http fact declared {value, type} is checked the same way', async () => {
    server = await startServer((_req, res) =>
      sendJson(res, [
        { id: 'a', ready: 'yes' },
        { id: 'b', ready: false },
      ]),
    );
    const res = await collect({ kind: 'http', url: `${server.url}/x`, facts: { ready: { value: 'record.ready', type: 'bool' } } }, '/');
    expect(byId(res.targets, 'a').unknown?.ready).toBe('declared `type: bool`, but the source gave text ("yes")');
    expect(byId(res.targets, 'b').facts).toEqual({ ready: false });
  });

  it('the net catches what any source kind returns, and leaves the objects a source keeps untouched', async () => {
    const reports = [
      { id: 'a', labels: { ok: 'x', bad: 1 as unknown as string }, facts: { n: Number.NEGATIVE_INFINITY, m: 1 } },
      { id: '', facts: { n: 1 } },
      { id: 'b', facts: { n: 2 } },
    ];
    const frozen = JSON.stringify(reports.map((r) => ({ ...r, facts: { ...r.facts, n: String(r.facts.n) } })));
    const source = fakeSource('fake', async () => ({ targets: reports, facts: ['n', 'm'], warnings: [] }));
    for (let run = 0; run < 2; run++) {
      const res = await collectAll([source], baseOpts);
      expect(res.targets.map((t) => t.id)).toEqual(['a', 'b']);
      expect(res.targets[0]).toMatchObject({ labels: { ok: 'x' }, facts: { m: 1 }, unknown: { n: expect.stringMatching(/out of range/) } });
      expect(res.reports[0]!.malformed).toBe(2);
    }
    expect(JSON.stringify(reports.map((r) => ({ ...r, facts: { ...r.facts, n: String(r.facts.n) } })))).toBe(frozen);
  });

  it('100,000 entries with a mistake each: every fact there unknown, the first 50 mistakes with their position, the rest counted', async () => {
    const targets = Array.from({ length: 100_000 }, (_, i) => ({ id: `w-${i}`, kind: 'worker', lables: { n: String(i) }, facts: { up: 1 } }));
    const text = JSON.stringify({ targets }, null, 1);
    const dir = fixture({ 'inv.json': text });
    const res = await collect({ kind: 'inventory', path: 'inv.json' }, dir);
    expect(res.reports[0]).toMatchObject({ status: 'ok', malformed: 100_000, targets: 100_000 });
    const problems = res.reports[0]!.problems!;
    expect(problems).toHaveLength(51);
    expect(problems[50]).toBe('inv.json: ... and 99950 more mistakes like these');
    const line = (n: number) =>
      text.split('\n').findIndex((l, i, all) => l.includes('"lables"') && all.slice(0, i).join('\n').split('"lables"').length - 1 === n) + 1;
    expect(problems[0]).toBe(`inv.json:${line(0)}:4: unknown field \`lables\`, did you mean \`labels\`?`);
    expect(res.targets[99_999]!.unknown?.up).toMatch(/^malformed entry: inv\.json:\d+:4: unknown field `lables`/);
  }, 60_000);
});
