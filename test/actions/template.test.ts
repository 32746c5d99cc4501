// Placeholders: dotted paths only, one pass, missing and empty values refused, references listed for `reflex check`.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasPlaceholder, parseTemplate, renderTemplate, templateRefs } from '../../src/actions/template.js';
import { PlanError } from '../../src/actions/types.js';
import { scope } from './helpers.js';

describe('templates', () => {
  const s = scope({
    labels: { unit: 'web-1.service', 'app-name': 'web' },
    facts: { restarts: 2, ok: true, disk: { mount: '/var' }, list: ['a', 'b'], nothing: null },
  });

  it('fills every kind of path', () => {
    expect(
      renderTemplate(
        '{{target.id}} {{ target.kind }} {{ labels.unit }} {{ labels.app-name }} {{ facts.restarts }} {{ facts.ok }} {{ facts.disk.mount }} {{ facts.list.1 }} {{ rule.name }} {{ rule.severity }}',
        s,
      ),
    ).toBe('web-1 instance web-1.service web 2 true /var b restart-unhealthy warning');
  });

  it('lists the referenced paths once each, in order', () => {
    expect(templateRefs('{{ labels.unit }}-{{ facts.x }}-{{labels.unit}}')).toEqual(['labels.unit', 'facts.x']);
    expect(templateRefs('no placeholders }} here')).toEqual([]);
  });

  it.each([
    ['{{ labels.unit | upper }}', /only dotted paths/],
    ['{{ facts.a + 1 }}', /only dotted paths/],
    ['{{ labels["x"] }}', /only dotted paths/],
    ['{{ }}', /only dotted paths/],
    ['{{ unit }}', /only dotted paths/],
    ['{{ env.HOME }}', /paths start with target, labels, facts, params or rule/],
    ['{{ target.labels }}', /target has target\.id and target\.kind/],
    ['{{ labels.a.b }}', /takes a single name/],
    ['{{ labels.unit', /unclosed placeholder/],
  ])('refuses malformed %s', (text, message) => {
    expect(() => parseTemplate(text)).toThrow(PlanError);
    expect(() => templateRefs(text)).toThrow(message);
  });

  it.each([
    ['{{ labels.missing }}', /labels\.missing.*no label "missing"/],
    ['{{ facts.missing }}', /facts\.missing.*unknown/],
    ['{{ facts.disk.size }}', /facts\.disk\.size.*does not exist/],
    ['{{ facts.nothing }}', /no value/],
    ['{{ facts.list }}', /is a list/],
    ['{{ facts.disk }}', /is a map/],
    ['{{ params.unit }}', /no param "unit"/],
  ])('refuses the value of %s, naming the placeholder', (text, message) => {
    expect(() => renderTemplate(text, s)).toThrow(message);
  });

  it('refuses empty values rather than rendering nothing', () => {
    expect(() => renderTemplate('x-{{ labels.unit }}', scope({ labels: { unit: '' } }))).toThrow(/\{\{ labels\.unit \}\} is empty/);
  });

  it('does not read inherited properties as labels or facts', () => {
    expect(() => renderTemplate('{{ labels.constructor }}', s)).toThrow(/no label/);
    expect(() => renderTemplate('{{ facts.toString }}', s)).toThrow(/unknown/);
  });

  it('writes \\{{ as a literal {{ (for Go templates such as docker inspect -f)', () => {
    expect(renderTemplate('\\{{.State.Status}} {{ target.id }}', s)).toBe('{{.State.Status}} web-1');
    expect(hasPlaceholder('\\{{.State}}')).toBe(false);
    expect(hasPlaceholder('a{{b')).toBe(true);
  });

  it('never re-reads a value as a template', () => {
    const evil = scope({ labels: { unit: '{{ facts.secret }}' }, facts: { secret: 'leaked' } });
    expect(renderTemplate('{{ labels.unit }}', evil)).toBe('{{ facts.secret }}');
  });

  it('passes the encoder each value with its path', () => {
    expect(renderTemplate('/a/{{ labels.unit }}?q={{ facts.restarts }}', s, (v, ref) => `[${ref}=${encodeURIComponent(v)}]`)).toBe(
      '/a/[labels.unit=web-1.service]?q=[facts.restarts=2]',
    );
  });

  it('property: any well-formed value without NUL is placed exactly as it is', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1 }), fc.string(), (value, prefix) => {
        fc.pre(!value.includes('\0') && !prefix.includes('{') && !prefix.includes('\\'));
        expect(renderTemplate(`${prefix}{{ labels.v }}`, scope({ labels: { v: value } }))).toBe(prefix + value);
      }),
      { numRuns: 500 },
    );
  });
});
