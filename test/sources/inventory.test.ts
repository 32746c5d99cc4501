import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectAll, createSource } from '../../src/sources/index.js';
import { SourceError, type SourceContext } from '../../src/sources/types.js';
import { fixture } from '../helpers.js';

const ctx = (projectDir: string): SourceContext => ({ signal: new AbortController().signal, now: Date.now(), projectDir, env: {} });
const inventory = (path: string) => createSource({ name: 'inv', kind: 'inventory', path });

describe('inventory source', () => {
  it('reads a YAML file of targets relative to the project directory', async () => {
    const dir = fixture({
      'inv/targets.yaml': `targets:
  - id: web-1
    kind: instance
    labels: { service: checkout, port: 8080 }
    depends_on: [db-1]
    facts: { restarts_last_hour: 1, tier: gold }
  - id: db-1
    kind: datastore
`,
    });
    const out = await inventory('inv/targets.yaml').collect(ctx(dir));
    expect(out.targets).toEqual([
      { id: 'web-1', kind: 'instance', labels: { service: 'checkout', port: '8080' }, depends_on: ['db-1'], facts: { restarts_last_hour: 1, tier: 'gold' } },
      { id: 'db-1', kind: 'datastore' },
    ]);
    expect(out.facts).toEqual(['restarts_last_hour', 'tier']);
    expect(out.warnings).toEqual([]);
  });

  it('reads a JSON file that is a top-level list, and a single depends_on id', async () => {
    const dir = fixture({ 'targets.json': JSON.stringify([{ id: 'a', kind: 'node', depends_on: 'b' }, { id: 'b' }]) });
    const out = await inventory('targets.json').collect(ctx(dir));
    expect(out.targets).toEqual([{ id: 'a', kind: 'node', depends_on: ['b'] }, { id: 'b' }]);
  });

  it('reads a file with a byte order mark, multi-byte text and invalid UTF-8 as the text it holds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-inv-'));
    const body = Buffer.from('{"targets": [{"id": "ünï-1", "labels": {"city": "Zürich 東京"}}, {"id": "x', 'utf8');
    // 0xff is no UTF-8: it reads as U+FFFD, as any UTF-8 reader does, and the id stays usable.
    writeFileSync(join(dir, 'bom.json'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body, Buffer.from([0xff]), Buffer.from('"}]}')]));
    writeFileSync(join(dir, 'bom.yaml'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('targets:\n  - id: a\n')]));
    const json = await inventory('bom.json').collect(ctx(dir));
    expect(json.targets).toEqual([{ id: 'ünï-1', labels: { city: 'Zürich 東京' } }, { id: 'x\uFFFD' }]);
    const yaml = await inventory('bom.yaml').collect(ctx(dir));
    expect(yaml.targets).toEqual([{ id: 'a' }]);
  });

  it('refuses a file over max_bytes without reading it, counting bytes rather than characters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-inv-'));
    // 30 characters but 53 bytes: over a limit of 40 bytes.
    writeFileSync(join(dir, 'big.json'), `[{"id":"${'é'.repeat(21)}"}]`);
    const src = createSource({ name: 'inv', kind: 'inventory', path: 'big.json', max_bytes: 40 } as never);
    await expect(src.collect(ctx(dir))).rejects.toThrow(/^big\.json: the file is .*over the limit of 40 bytes/);
  });

  it('points at line and column of a JSON syntax error', async () => {
    const dir = fixture({ 'bad.json': '{\n  "targets": [\n    {"id": "a",}\n  ]\n}\n' });
    await expect(inventory('bad.json').collect(ctx(dir))).rejects.toThrow(/^bad\.json:3:16: invalid JSON/);
  });

  it('points at line and column of a YAML syntax error', async () => {
    const dir = fixture({ 'bad.yaml': 'targets:\n  - id: a\n    labels: {x: 1\n' });
    const err = await inventory('bad.yaml')
      .collect(ctx(dir))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toMatch(/^bad\.yaml:\d+:\d+: invalid YAML/);
  });

  it('points at the entry with a missing id, in JSON as in YAML, and keeps the other entries', async () => {
    const dir = fixture({
      'a.json': '{"targets": [\n  {"id": "a"},\n  {"kind": "node"}\n]}',
      'a.yaml': 'targets:\n  - id: a\n  - id: b\n    labels:\n      x: [1]\n',
    });
    const json = await inventory('a.json').collect(ctx(dir));
    expect(json.problems).toEqual(['a.json:3:3: a target needs an `id`; the entry is left out']);
    expect(json.targets).toEqual([{ id: 'a' }]);
    expect(json.malformed).toBe(1);
    const yaml = await inventory('a.yaml').collect(ctx(dir));
    expect(yaml.problems).toEqual(['a.yaml:5:10: label `x` must be text, a number or a boolean, not a list']);
    expect(yaml.targets.map((t) => t.id)).toEqual(['a', 'b']);
  });

  it('fails as a whole only when the file is not a list of targets', async () => {
    const dir = fixture({ 'a.yaml': 'targets: {a: 1}\n', 'b.yaml': 'tragets:\n  - id: a\n', 'c.json': '"x"' });
    await expect(inventory('a.yaml').collect(ctx(dir))).rejects.toThrow('a.yaml:1:10: targets: `targets` must be a list');
    await expect(inventory('b.yaml').collect(ctx(dir))).rejects.toThrow('b.yaml:1:1: tragets: unknown top-level field `tragets`, did you mean `targets`?');
    await expect(inventory('c.json').collect(ctx(dir))).rejects.toThrow('c.json:1:1: expected a list of targets');
  });

  it('fails clearly when the file is missing', async () => {
    await expect(inventory('nope.yaml').collect(ctx(fixture({})))).rejects.toThrow('nope.yaml: file not found');
  });

  it('warns about repeated ids, and names an unknown field with its position and a suggestion', async () => {
    const dir = fixture({ 't.yaml': 'targets:\n  - id: a\n    lables: {x: y}\n  - id: a\n' });
    const out = await inventory('t.yaml').collect(ctx(dir));
    expect(out.warnings).toEqual([
      't.yaml:3:5: unknown field `lables`, did you mean `labels`?; the facts of "a" are unknown',
      't.yaml:4:5: target "a" is listed again (first at entry 0); the entries are merged',
    ]);
    expect(out.problems).toEqual(['t.yaml:3:5: unknown field `lables`, did you mean `labels`?']);
  });

  it('collects a 100,000-target JSON inventory completely (its speed is measured by npm run bench)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-inv-'));
    const targets = Array.from({ length: 100_000 }, (_, i) => ({
      id: `inst-${i}`,
      kind: 'instance',
      labels: { service: `svc-${i % 100}`, region: i % 2 ? 'eu' : 'us' },
      depends_on: [`db-${i % 10}`],
      facts: { healthy: i % 7 !== 0, restarts_last_hour: i % 4 },
    }));
    writeFileSync(join(dir, 'big.json'), JSON.stringify({ targets }));
    const res = await collectAll([inventory('big.json')], { now: Date.now(), projectDir: dir, env: {}, concurrency: 4, defaultTimeoutMs: 60_000 });
    expect(res.reports[0]!.status).toBe('ok');
    expect(res.targets).toHaveLength(100_000);
    expect(res.targets[99_999]!.facts).toEqual({ healthy: true, restarts_last_hour: 3 });
  });
});
