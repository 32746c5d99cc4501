// Injection corpus: hostile label and fact values reach a command or a request only as themselves, or not at all.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planAction, PlanError } from '../../src/actions/index.js';
import type { ActionConfig } from '../../src/config/schema.js';
import { exec, execCtx, http, planCtx, receiver, RECORD_ARGV, scope, type Receiver } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'reflex-inject-'));
/** If any entry ever reaches a shell, this file appears. */
const CANARY = join(dir, 'CANARY');

const CORPUS: [string, string][] = [
  ['semicolon', `web-1; touch ${CANARY}`],
  ['pipe', `web-1 | touch ${CANARY}`],
  ['and-and', `web-1 && touch ${CANARY}`],
  ['or-or', `nope || touch ${CANARY}`],
  ['command substitution', `$(touch ${CANARY})`],
  ['backticks', `\`touch ${CANARY}\``],
  ['newline', `web-1\ntouch ${CANARY}`],
  ['carriage return + line feed', 'web-1\r\nX-Injected: yes'],
  ['option', '--flag=/etc/passwd'],
  ['short option', '-rf'],
  ['two single quotes', "''"],
  ['quotes mix', `'"\\'`],
  ['empty', ''],
  ['path traversal', '../../etc/passwd'],
  ['dot dot', '..'],
  ['dot', '.'],
  ['encoded traversal', '%2e%2e%2f%2e%2e%2f'],
  ['NUL', 'web-1\0--force'],
  ['trailing NUL', 'web-1\0'],
  ['RTL override', 'web-1\u202Ecod.exe'],
  ['emoji', '🔥web-1🚒'],
  ['combining characters', 'we\u0301b-1\u0338\u20dd'],
  ['zero-width joiner', 'web\u200d-1'],
  ['lone surrogate', 'web-\ud800'],
  ['glob and redirection', `* > ${CANARY} < /etc/passwd`],
  ['variable expansion', '${HOME} $PATH %PATH%'],
  ['query breakers', 'a&b=c#frag?x=1'],
  ['plus and space', 'a+b c'],
  ['backslashes', 'a\\b\\\\c'],
  ['JSON breaker', '","injected":true,"x":"'],
  ['placeholder text', '{{ facts.secret }}'],
  ['tab', 'a\tb'],
  ['leading and trailing spaces', ' padded '],
  ['very long (ASCII)', 'x'.repeat(50_000)],
  ['very long (mixed)', `a;b|c&&$(d)\`e\`\n../é🔥`.repeat(2_000)],
];

type Sink = 'exec whole argument' | 'exec inside an argument' | 'http path' | 'http query' | 'http header' | 'http body';

/** What should happen to a value in each place: delivered exactly as itself, or refused before anything runs. */
function expected(value: string, sink: Sink): 'delivered' | 'refused' {
  if (value === '' || value.includes('\0') || /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) return 'refused';
  switch (sink) {
    case 'exec whole argument':
      return value.startsWith('-') ? 'refused' : 'delivered';
    case 'http path':
      return value === '.' || value === '..' ? 'refused' : 'delivered';
    case 'http header':
      return /[^\x20-\x7e]/.test(value) || /^\s|\s$/.test(value) ? 'refused' : 'delivered';
    default:
      return 'delivered';
  }
}

let srv: Receiver;
beforeAll(async () => {
  srv = await receiver();
});
afterAll(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Plan with the value as label `v` and fact `v`; null when refused (a PlanError), never any other error. */
function plan(action: ActionConfig, value: string) {
  try {
    return planAction('probe', action, planCtx(scope({ labels: { v: value }, facts: { v: value, secret: 'must-not-appear' } })));
  } catch (err) {
    expect(err).toBeInstanceOf(PlanError);
    return null;
  }
}

let n = 0;
async function runExec(argv: string[], value: string): Promise<string[] | null> {
  const out = join(dir, `argv-${n++}.json`);
  const p = plan(exec({ argv: [process.execPath, RECORD_ARGV, ...argv], env: ['RECORD_TO'] }), value);
  if (!p) return null;
  const res = await p.run(execCtx({ env: { PATH: process.env.PATH, RECORD_TO: out } }));
  expect(res.status).toBe('succeeded');
  return JSON.parse(readFileSync(out, 'utf8')).argv as string[];
}

async function runHttp(action: ActionConfig, value: string) {
  const before = srv.requests.length;
  const p = plan(action, value);
  if (!p) {
    expect(srv.requests.length).toBe(before);
    return null;
  }
  const res = await p.run(execCtx());
  expect(res.status).toBe('succeeded');
  expect(srv.requests.length).toBe(before + 1);
  return srv.requests[srv.requests.length - 1]!;
}

describe.each(CORPUS)('injection corpus: %s', (_name, value) => {
  it('exec: a whole argument is exactly one argument holding the value', async () => {
    const argv = await runExec(['{{ labels.v }}'], value);
    if (expected(value, 'exec whole argument') === 'refused') expect(argv).toBeNull();
    else expect(argv).toEqual([value]);
    expect(existsSync(CANARY)).toBe(false);
  });

  it('exec: inside an argument the value stays inside that argument', async () => {
    const argv = await runExec(['--name={{ facts.v }}', 'pre-{{ labels.v }}-post', 'fixed'], value);
    if (expected(value, 'exec inside an argument') === 'refused') expect(argv).toBeNull();
    else expect(argv).toEqual([`--name=${value}`, `pre-${value}-post`, 'fixed']);
    expect(existsSync(CANARY)).toBe(false);
  });

  it('http path: one encoded segment, the path cannot change', async () => {
    const req = await runHttp(http({ url: `${srv.base}/api/{{ labels.v }}/restart` }), value);
    if (expected(value, 'http path') === 'refused') return expect(req).toBeNull();
    const path = req!.url.split('?')[0]!;
    const segments = path.split('/');
    expect(segments).toHaveLength(4);
    expect([segments[0], segments[1], segments[3]]).toEqual(['', 'api', 'restart']);
    expect(decodeURIComponent(segments[2]!)).toBe(value);
    expect(req!.url).not.toContain('?');
  });

  it('http query: one encoded value, no extra parameters', async () => {
    const req = await runHttp(http({ url: `${srv.base}/q?reason={{ facts.v }}&fixed=1` }), value);
    if (expected(value, 'http query') === 'refused') return expect(req).toBeNull();
    const u = new URL(req!.url, srv.base);
    expect(u.pathname).toBe('/q');
    expect([...u.searchParams.keys()]).toEqual(['reason', 'fixed']);
    expect(u.searchParams.get('reason')).toBe(value);
    expect(u.searchParams.get('fixed')).toBe('1');
  });

  it('http header: the exact value in one header, or refused', async () => {
    const req = await runHttp(http({ url: `${srv.base}/h`, headers: { 'X-Value': '{{ labels.v }}' } }), value);
    if (expected(value, 'http header') === 'refused') return expect(req).toBeNull();
    expect(req!.headers['x-value']).toBe(value);
    expect(req!.headers['x-injected']).toBeUndefined();
    expect(req!.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'x-value')).toHaveLength(1);
  });

  it('http body: JSON strings holding the value, never spliced into the JSON text', async () => {
    const req = await runHttp(http({ url: `${srv.base}/b`, body: { value: '{{ facts.v }}', nested: { list: ['pre-{{ labels.v }}'] }, n: 1 } }), value);
    if (expected(value, 'http body') === 'refused') return expect(req).toBeNull();
    expect(JSON.parse(req!.body)).toEqual({ value, nested: { list: [`pre-${value}`] }, n: 1 });
  });
});

describe('injection through params with a pattern', () => {
  const action = exec({
    argv: [process.execPath, RECORD_ARGV, '{{ params.unit }}'],
    env: ['RECORD_TO'],
    params: { unit: { pattern: '[A-Za-z0-9][A-Za-z0-9@._-]{0,63}\\.service' } },
  });
  it.each(CORPUS)('%s is refused by the pattern', (_name, value) => {
    expect(() => planAction('restart', action, planCtx(scope({ labels: { v: value } }), { with: { unit: '{{ labels.v }}.service' } }))).toThrow(PlanError);
  });
  it('a value that fits the pattern is delivered', async () => {
    expect(await runExec(['{{ labels.v }}'], 'web-1')).toEqual(['web-1']);
    const p = planAction('restart', action, planCtx(scope({ labels: { v: 'web-1' } }), { with: { unit: '{{ labels.v }}.service' } }));
    expect(p.detail.argv).toEqual([process.execPath, RECORD_ARGV, 'web-1.service']);
  });
});
