// Redaction: secrets replaced as literal strings, longest first; credential headers and URL parts hidden.
import { describe, expect, it } from 'vitest';
import { makeRedactor, redactHeaders, redactUrl } from '../../src/redact.js';

describe('makeRedactor', () => {
  it('replaces every occurrence of each secret with ***', () => {
    expect(makeRedactor(['hunter22'])('pw=hunter22 and again hunter22')).toBe('pw=*** and again ***');
  });

  it('treats secrets as literal text, never as regular expressions', () => {
    const r = makeRedactor(['a.*z', '$1$2', '(x|y)+']);
    expect(r('abcz a.*z')).toBe('abcz ***');
    expect(r('cost $1$2')).toBe('cost ***');
    expect(r('xyxy (x|y)+')).toBe('xyxy ***');
  });

  it('removes the longest secret first, so a secret containing another goes whole', () => {
    expect(makeRedactor(['abcd', 'abcdefgh'])('key=abcdefgh')).toBe('key=***');
    expect(makeRedactor(['abcdefgh', 'abcd'])('key=abcdefgh')).toBe('key=***');
  });

  it('ignores secrets shorter than 4 characters', () => {
    expect(makeRedactor(['on', 'abc', ''])('abc is on')).toBe('abc is on');
  });

  it('is the identity without secrets', () => {
    expect(makeRedactor([])('x')).toBe('x');
  });
});

describe('redactHeaders and redactUrl', () => {
  it('hides credential headers by name', () => {
    expect(redactHeaders({ Authorization: 'Bearer x', 'X-API-Key': 'k', 'X-Vault-Token': 't', 'Content-Type': 'application/json', 'X-Request': 'r' })).toEqual({
      Authorization: '***',
      'X-API-Key': '***',
      'X-Vault-Token': '***',
      'Content-Type': 'application/json',
      'X-Request': 'r',
    });
  });

  it('hides a URL password and sensitive query values', () => {
    expect(redactUrl('https://user:pw@example.com/a?token=abc&x=1&api_key=k')).toBe('https://user:***@example.com/a?token=***&x=1&api_key=***');
    expect(redactUrl('https://example.com/a?x=1')).toBe('https://example.com/a?x=1');
    expect(redactUrl('not a url')).toBe('not a url');
  });
});
