// The JSON position finder agrees with a YAML parse of the same text (JSON is YAML) on keys, values, escapes and nesting.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { describe, expect, it } from 'vitest';
import { JsonPositions } from '../../src/sources/inventory/json-positions.js';
import type { DocPath } from '../../src/sources/shape.js';

function yamlOffset(text: string, path: DocPath, key: boolean): number {
  const doc = parseDocument(text, { lineCounter: new LineCounter(), version: '1.2' });
  let node: unknown = doc.contents;
  path.forEach((seg, i) => {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg))!;
      node = key && i === path.length - 1 ? pair.key : pair.value;
    } else if (isSeq(node)) node = node.items[Number(seg)];
  });
  return (node as Node).range![0];
}

describe('JSON positions', () => {
  const text = `{
  "version": 1, "tricky": "a \\\\\\" ] } , [ {",
  "targets": [
    {"id": "a", "facts": {"x": [1, [2, {"y": "]"}]], "n": -1.5e3}},
    { "id" : "b" , "labels" : { "k\\u0041" : true } , "facts": null },
    [], 3, "s", {"deep": [[[[[]]]]], "after": false}
  ]
}`;
  const cases: [DocPath, boolean][] = [
    [['version'], true],
    [['targets'], false],
    [['targets', 0, 'facts', 'x', 1, 1, 'y'], false],
    [['targets', 0, 'facts', 'n'], false],
    [['targets', 1, 'id'], true],
    [['targets', 1, 'labels', 'kA'], true],
    [['targets', 1, 'facts'], false],
    [['targets', 4], false],
    [['targets', 5, 'after'], true],
    [['targets', 5, 'after'], false],
  ];
  for (const [path, key] of cases) {
    it(`${path.join('.')}${key ? ' (key)' : ''}`, () => {
      expect(new JsonPositions(text).offset(path, key)).toBe(yamlOffset(text, path, key));
    });
  }

  it('a path that does not exist points at the deepest part that does', () => {
    const p = new JsonPositions(text);
    expect(p.offset(['targets', 1, 'nope'])).toBe(text.indexOf('{ "id" : "b"'));
    expect(p.offset(['targets', 99])).toBe(text.indexOf('[\n    {'));
  });
});
