// The conditions codec keeps what plain JSON would lose: inputs referenced but unknown.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConditionResult, FactValue } from '../model.js';
import { decodeConditions, encodeConditions } from './codec.js';

const factValue: fc.Arbitrary<FactValue> = fc.jsonValue() as fc.Arbitrary<FactValue>;

const condition: fc.Arbitrary<ConditionResult> = fc.record(
  {
    name: fc.string(),
    expr: fc.string(),
    result: fc.constantFrom(true, false, 'unknown' as const),
    inputs: fc.dictionary(fc.string(), fc.option(factValue, { nil: undefined })),
    unknown: fc.string(),
  },
  { requiredKeys: ['name', 'expr', 'result'] },
);

describe('conditions codec', () => {
  it('round-trips any conditions, keeping unknown (undefined) inputs as present keys', () => {
    fc.assert(
      fc.property(fc.array(condition, { maxLength: 5 }), (cs) => {
        const back = decodeConditions(encodeConditions(cs));
        expect(back).toHaveLength(cs.length);
        cs.forEach((c, i) => {
          const b = back[i]!;
          expect(b.name).toBe(c.name);
          expect(b.result).toBe(c.result);
          if (c.inputs === undefined) expect(b.inputs).toBeUndefined();
          else {
            expect(Object.keys(b.inputs!).sort()).toEqual(Object.keys(c.inputs).sort());
            for (const [k, v] of Object.entries(c.inputs)) expect(b.inputs![k]).toEqual(v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
          }
        });
      }),
    );
  });

  it('marks an unknown input by its name alone', () => {
    expect(encodeConditions([{ name: 'c', expr: 'x > 1', result: 'unknown', inputs: { x: undefined, y: 2 } }])).toBe(
      '[{"name":"c","expr":"x > 1","result":"unknown","inputs":[["x"],["y",2]]}]',
    );
  });
});
