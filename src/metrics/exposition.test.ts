import { describe, expect, it } from 'vitest';
import { formatValue, render } from './exposition.js';
import { pushgatewayGroupUrl } from './publish.js';

const g = { name: 'x_things', type: 'gauge' as const, help: 'Things.' };

describe('the exposition format', () => {
  it('declares every family with HELP and TYPE, samples sorted by labels, labels sorted by name', () => {
    const text = render([
      {
        family: g,
        samples: [
          { labels: { rule: 'b', outcome: 'x' }, value: 2 },
          { labels: { rule: 'a', outcome: 'y' }, value: 1 },
        ],
      },
      { family: { name: 'x_empty_total', type: 'counter', help: 'None yet.' }, samples: [] },
    ]);
    expect(text).toBe(
      [
        '# HELP x_things Things.',
        '# TYPE x_things gauge',
        'x_things{outcome="x",rule="b"} 2',
        'x_things{outcome="y",rule="a"} 1',
        '# HELP x_empty_total None yet.',
        '# TYPE x_empty_total counter',
        '',
      ].join('\n'),
    );
  });

  it('escapes backslashes, quotes and newlines in label values, and backslashes and newlines in help', () => {
    const text = render([{ family: { ...g, help: 'a\\b\nc' }, samples: [{ labels: { target: 'we"b\\1\nx' }, value: 1 }] }]);
    expect(text).toContain('# HELP x_things a\\\\b\\nc\n');
    expect(text).toContain('x_things{target="we\\"b\\\\1\\nx"} 1\n');
  });

  it('writes the special values the way Prometheus reads them', () => {
    expect([NaN, Infinity, -Infinity, 0.25, 1796298571.308, 3].map(formatValue)).toEqual(['NaN', '+Inf', '-Inf', '0.25', '1796298571.308', '3']);
  });

  it('refuses a bad metric or label name, and two samples with the same labels (a bug, never a silent overwrite)', () => {
    expect(() => render([{ family: { ...g, name: 'x-things' }, samples: [] }])).toThrow(/invalid metric name/);
    expect(() => render([{ family: g, samples: [{ labels: { 'a-b': '1' }, value: 1 }] }])).toThrow(/invalid label name/);
    expect(() => render([{ family: g, samples: [{ labels: { __name__: '1' }, value: 1 }] }])).toThrow(/invalid label name/);
    expect(() =>
      render([
        {
          family: g,
          samples: [
            { labels: { a: '1' }, value: 1 },
            { labels: { a: '1' }, value: 2 },
          ],
        },
      ]),
    ).toThrow(/duplicate sample x_things\{a="1"\}/);
  });
});

describe('the Pushgateway grouping key', () => {
  it('is job and instance, plus the shard in sharded layouts, base64url-encoded when a value holds a slash', () => {
    expect(pushgatewayGroupUrl('http://gw:9091/', { job: 'reflex', instance: 'host-1' })).toBe('http://gw:9091/metrics/job/reflex/instance/host-1');
    const url = pushgatewayGroupUrl('http://gw:9091', { job: 'reflex', instance: 'host 1', shard: 'shard:1/4,shard:3/4' });
    expect(url).toBe(`http://gw:9091/metrics/job/reflex/instance/host%201/shard@base64/${Buffer.from('shard:1/4,shard:3/4').toString('base64url')}`);
  });
});
