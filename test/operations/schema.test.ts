// The JSON Schemas for editors: every property explained, a stable $id, and patterns (durations, names) that fail
// with words, not a regex.
import { describe, expect, it } from 'vitest';
import { jsonSchema, type SchemaKind, SCHEMA_BASE } from '../../src/check/schema-json.js';

type Node = Record<string, unknown>;

/** [path, node] of every property in a schema. */
function properties(n: unknown, path = ''): [string, Node][] {
  if (!n || typeof n !== 'object') return [];
  if (Array.isArray(n)) return n.flatMap((x) => properties(x, path));
  const node = n as Node;
  const out: [string, Node][] = [];
  for (const [name, p] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
    const q = path ? `${path}.${name}` : name;
    out.push([q, p], ...properties(p, q));
  }
  for (const [k, v] of Object.entries(node))
    if (k !== 'properties') out.push(...properties(v, k === 'items' || k === 'additionalProperties' ? `${path}[]` : path));
  return out;
}

function patterns(n: unknown): Node[] {
  if (!n || typeof n !== 'object') return [];
  if (Array.isArray(n)) return n.flatMap(patterns);
  const node = n as Node;
  const own = typeof node.pattern === 'string' && node.type === 'string' ? [node] : [];
  return [...own, ...Object.values(node).flatMap(patterns)];
}

describe.each(['config', 'rules', 'tests'] as SchemaKind[])('the %s schema', (kind) => {
  it('describes every property (hover help in editors)', async () => {
    const props = properties(await jsonSchema(kind));
    expect(props.length).toBeGreaterThan(20);
    expect(props.filter(([, p]) => typeof p.description !== 'string' || p.description.length < 8).map(([path]) => path)).toEqual([]);
    for (const name of kind === 'config'
      ? ['sources', 'actions', 'channels', 'guardrails', 'metrics']
      : kind === 'rules'
        ? ['rules', 'rules[].name']
        : ['scenarios']) {
      expect(props.find(([path]) => path === name)?.[1].description, name).toBeTruthy();
    }
  });

  it('has a stable $id', async () => {
    expect((await jsonSchema(kind)).$id).toBe(`${SCHEMA_BASE}/${kind}.schema.json`);
  });

  it('explains a value that does not match a pattern in words', async () => {
    const ps = patterns(await jsonSchema(kind));
    expect(ps.length).toBeGreaterThan(0);
    for (const p of ps) expect(p.patternErrorMessage, String(p.pattern)).toMatch(/^[a-z"]/i);
  });
});

it('a duration says what it expects', async () => {
  const config = await jsonSchema('config');
  const timeout = properties(config).find(([path]) => path === 'metrics.timeout')![1];
  expect(timeout.patternErrorMessage).toBe('expected a duration such as 30s, 5m, 1h30m or 7d');
});
