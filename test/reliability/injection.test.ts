// End to end: hostile label and fact values go through a real `reflex run` into exec and http actions, and arrive only as themselves.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers.js';
import { receiver, type Receiver } from '../actions/helpers.js';
import { reflexAsync, type Exit } from './harness.js';

const dir = fixture({ 'records/.keep': '' }, 'reflex-inject-e2e-');
/** If any value ever reaches a shell, this file appears. */
const CANARY = join(dir, 'CANARY');

const CORPUS: [string, string][] = [
  ['semicolon', `c; touch ${CANARY}`],
  ['pipe', `c | touch ${CANARY}`],
  ['and-and', `c && touch ${CANARY}`],
  ['or-or', `nope || touch ${CANARY}`],
  ['command substitution', `$(touch ${CANARY})`],
  ['backticks', `\`touch ${CANARY}\``],
  ['newline', `c\ntouch ${CANARY}`],
  ['CR LF header injection', 'c\r\nX-Injected: yes'],
  ['option with value', '--flag=/etc/passwd'],
  ['short option', '-rf'],
  ['two single quotes', "''"],
  ['quotes mix', `'"\\'`],
  ['empty', ''],
  ['path traversal', '../../etc/passwd'],
  ['dot dot', '..'],
  ['encoded traversal', '%2e%2e%2f%2e%2e%2f'],
  ['NUL', 'c\0--force'],
  ['unicode RTL override', 'c\u202Ecod.exe'],
  ['unicode emoji and accents', '🔥cé🚒'],
  ['unicode combining and zero-width', 'we\u0301b\u200d-1\u0338'],
  ['lone surrogate', 'c-\ud800'],
  ['glob and redirection', `* > ${CANARY} < /etc/passwd`],
  ['variable expansion', '${HOME} $PATH %PATH%'],
  ['query breakers', 'a&b=c#frag?x=1'],
  ['plus and space', 'a+b c'],
  ['JSON breaker', '","injected":true,"x":"'],
  ['placeholder text', '{{ target.id }}'],
  ['leading and trailing spaces', ' padded '],
  ['long', `a;b|c&&$(d)\`e\`\n../é🔥`.repeat(500)],
];

type Sink = 'exec-arg' | 'exec-inside' | 'http-path' | 'http-query' | 'http-header' | 'http-body';
const SINKS: Sink[] = ['exec-arg', 'exec-inside', 'http-path', 'http-query', 'http-header', 'http-body'];

/** What should happen to a value in each place: delivered exactly as itself, or refused before anything runs. */
function expected(value: string, sink: Sink): 'delivered' | 'refused' {
  if (value === '' || value.includes('\0') || /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) return 'refused';
  switch (sink) {
    case 'exec-arg':
      return value.startsWith('-') ? 'refused' : 'delivered';
    case 'http-path':
      return value === '.' || value === '..' ? 'refused' : 'delivered';
    case 'http-header':
      return /[^\x20-\x7e]/.test(value) || /^\s|\s$/.test(value) ? 'refused' : 'delivered';
    default:
      return 'delivered';
  }
}

/** The exec actions' program: writes the arguments it got, as JSON, to a file of its own. */
const RECORD = `import { writeFileSync } from 'node:fs';
writeFileSync(new URL('./records/' + process.pid + '.json', import.meta.url), JSON.stringify(process.argv.slice(2)));
`;

const id = (i: number) => `c-${i}`;
let srv: Receiver;
let run: Exit;
let doc: { decisions: { rule: string; target: string; outcome: string; reason: string | null }[] };

beforeAll(async () => {
  srv = await receiver();
  const node = JSON.stringify(process.execPath);
  const rec = JSON.stringify(join(dir, 'record.mjs'));
  writeFileSync(join(dir, 'record.mjs'), RECORD);
  // JSON, so that NUL and lone surrogates reach the labels and facts as they are.
  writeFileSync(
    join(dir, 'inventory.json'),
    JSON.stringify({ targets: CORPUS.map(([, v], i) => ({ id: id(i), kind: 'probe', labels: { v }, facts: { v } })) }),
  );
  writeFileSync(
    join(dir, 'reflex.yaml'),
    `store: state.db
rules: [rules.yaml]
sources:
  - { name: inventory, kind: inventory, path: inventory.json }
actions:
  exec-arg:
    kind: exec
    argv: [${node}, ${rec}, exec-arg, "{{ target.id }}", "{{ labels.v }}"]
  exec-inside:
    kind: exec
    argv: [${node}, ${rec}, exec-inside, "{{ target.id }}", "--value={{ facts.v }}", "pre-{{ labels.v }}-post"]
  http-path:
    kind: http
    url: ${srv.base}/path/{{ target.id }}/{{ labels.v }}/end
  http-query:
    kind: http
    method: GET
    url: ${srv.base}/query/{{ target.id }}?v={{ facts.v }}&fixed=1
  http-header:
    kind: http
    url: ${srv.base}/header/{{ target.id }}
    headers: { X-Value: "{{ labels.v }}" }
  http-body:
    kind: http
    url: ${srv.base}/body/{{ target.id }}
    body: { value: "{{ facts.v }}", nested: { list: ["pre-{{ labels.v }}"] }, n: 1 }
defaults: { max_concurrency: 4 }
guardrails:
  budget_per_run: 10000
  widespread: { min_targets: 100000 }
  blast_radius: { per_rule: "100000 per 1m", group_fraction: 1, group_by: [] }
  failure_breaker: { failures: 1000, of_last: 1000 }
`,
  );
  writeFileSync(
    join(dir, 'rules.yaml'),
    'rules:\n' +
      SINKS.map((s) => `  - name: via-${s}\n    target: { kind: probe }\n    when: { always: "true" }\n    mode: enforce\n    do: [{ action: ${s} }]\n`).join(
        '',
      ),
  );
  run = await reflexAsync(dir, ['run', '--json']);
  doc = JSON.parse(run.stdout);
}, 120_000);

afterAll(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

function records(): { sink: string; target: string; args: string[] }[] {
  return readdirSync(join(dir, 'records'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      const [sink, target, ...args] = JSON.parse(readFileSync(join(dir, 'records', f), 'utf8')) as string[];
      return { sink: sink!, target: target!, args };
    });
}

const requestsFor = (sink: string, target: string) =>
  srv.requests.filter(
    (r) => r.url.startsWith(`/${sink.slice(5)}/${target}/`) || r.url.startsWith(`/${sink.slice(5)}/${target}?`) || r.url === `/${sink.slice(5)}/${target}`,
  );

describe('injection corpus through a real run', () => {
  it('the run completed: every value was either delivered or refused while planning (plan:invalid), nothing else', () => {
    expect(run.code, run.stderr).toBeLessThanOrEqual(1);
    CORPUS.forEach(([name, v], i) => {
      for (const s of SINKS) {
        const d = doc.decisions.find((x) => x.rule === `via-${s}` && x.target === id(i));
        const want = expected(v, s);
        expect(d, `${name} via ${s}`).toBeDefined();
        if (want === 'refused') expect([d!.outcome, d!.reason], `${name} via ${s}`).toEqual(['blocked', 'plan:invalid']);
        else expect(d!.outcome, `${name} via ${s}: ${JSON.stringify(d)}`).toBe('executed');
      }
    });
  });

  it('no shell ever ran: the canary file does not exist', () => {
    expect(existsSync(CANARY)).toBe(false);
  });

  it('exec: each delivered value arrived as exactly one argument (or inside its one argument), once; nothing else ran', () => {
    const recs = records();
    let want = 0;
    CORPUS.forEach(([name, v], i) => {
      const arg = recs.filter((r) => r.sink === 'exec-arg' && r.target === id(i));
      const inside = recs.filter((r) => r.sink === 'exec-inside' && r.target === id(i));
      if (expected(v, 'exec-arg') === 'delivered') {
        want++;
        expect(
          arg.map((r) => r.args),
          name,
        ).toEqual([[v]]);
      } else expect(arg, name).toEqual([]);
      if (expected(v, 'exec-inside') === 'delivered') {
        want++;
        expect(
          inside.map((r) => r.args),
          name,
        ).toEqual([[`--value=${v}`, `pre-${v}-post`]]);
      } else expect(inside, name).toEqual([]);
    });
    expect(recs).toHaveLength(want);
  });

  it('http: each delivered value arrived as one encoded path segment, query value, header or JSON string, once; nothing else was sent', () => {
    let want = 0;
    CORPUS.forEach(([name, v], i) => {
      const t = id(i);
      const path = requestsFor('http-path', t);
      if (expected(v, 'http-path') === 'delivered') {
        want++;
        expect(path, name).toHaveLength(1);
        const segments = path[0]!.url.split('/');
        expect(segments, name).toHaveLength(5);
        expect([segments[1], segments[2], segments[4]]).toEqual(['path', t, 'end']);
        expect(decodeURIComponent(segments[3]!), name).toBe(v);
      } else expect(path, name).toEqual([]);

      const query = requestsFor('http-query', t);
      if (expected(v, 'http-query') === 'delivered') {
        want++;
        expect(query, name).toHaveLength(1);
        const u = new URL(query[0]!.url, srv.base);
        expect(u.pathname).toBe(`/query/${t}`);
        expect([...u.searchParams.keys()], name).toEqual(['v', 'fixed']);
        expect(u.searchParams.get('v'), name).toBe(v);
      } else expect(query, name).toEqual([]);

      const header = requestsFor('http-header', t);
      if (expected(v, 'http-header') === 'delivered') {
        want++;
        expect(header, name).toHaveLength(1);
        expect(header[0]!.headers['x-value'], name).toBe(v);
        expect(header[0]!.headers['x-injected']).toBeUndefined();
        expect(header[0]!.rawHeaders.filter((h, j) => j % 2 === 0 && h.toLowerCase() === 'x-value')).toHaveLength(1);
      } else expect(header, name).toEqual([]);

      const body = requestsFor('http-body', t);
      if (expected(v, 'http-body') === 'delivered') {
        want++;
        expect(body, name).toHaveLength(1);
        expect(JSON.parse(body[0]!.body), name).toEqual({ value: v, nested: { list: [`pre-${v}`] }, n: 1 });
      } else expect(body, name).toEqual([]);
    });
    expect(srv.requests).toHaveLength(want);
  });
});
