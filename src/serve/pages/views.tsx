// The console's pages, server-rendered: each takes what the read model returned and the viewer, and needs no JavaScript.
import type { FC } from 'hono/jsx';
import type { DecisionOutcome } from '../../model.js';
import { describeState } from '../../approvals/decide.js';
import { guardWords, rejectCommand, approveCommand } from '../../approvals/index.js';
import { approvalLine, verificationLine } from '../../explain/verify.js';
import type { ApprovalRecord, DecisionRecord, ExecutionRecord, RunRecord, VerificationRecord } from '../../store/types.js';
import { formatDuration } from '../../util/duration.js';
import type { DecisionFilter, Overview, ReadModel } from '../data.js';
import { OUTCOMES, outcomesOf } from '../data.js';
import type { WhyDoc } from '../why.js';
import { ago, ChangeForm, href, iso, Layout, NeedLogin, Outcome, Pager, s, targetHref, type Viewer, whyHref } from './layout.js';

type Awaited2<T> = T extends Promise<infer U> ? U : T;
type M<K extends keyof ReadModel> = ReadModel[K] extends (...a: any[]) => infer R ? Awaited2<R> : never;

const lastVerdict = (d: DecisionRecord) => d.trace.filter((v) => v.stops).pop() ?? d.trace[d.trace.length - 1];

function outcomeText(o: Record<string, number>): string {
  const parts = OUTCOMES.filter((k) => k !== 'not_matched' && o[k]).map((k) => `${o[k]} ${k.replace('_', '-')}`);
  return parts.join(', ') || 'nothing matched';
}

// ---------------------------------------------------------------- chart

/** The chart's colour groups, most urgent first. */
const GROUPS: { name: string; cls: string; outcomes: DecisionOutcome[] }[] = [
  { name: 'failed', cls: 'failed', outcomes: ['failed', 'interrupted'] },
  { name: 'acted', cls: 'acted', outcomes: ['executed'] },
  { name: 'escalated', cls: 'escalated', outcomes: ['escalated'] },
  { name: 'held back', cls: 'held', outcomes: ['blocked', 'cooled_down', 'deferred'] },
  { name: 'dry-run', cls: 'dry-run', outcomes: ['dry_run'] },
  { name: 'unknown', cls: 'unknown', outcomes: ['unknown', 'pending'] },
];

export const RunChart: FC<{ runs: Overview['recent'] }> = ({ runs }) => {
  const W = 720;
  const H = 160;
  const n = Math.max(runs.length, 1);
  const bw = Math.min(40, Math.max(4, Math.floor((W - 40) / n) - 4));
  const totals = runs.map((r) => GROUPS.reduce((a, g) => a + g.outcomes.reduce((b, o) => b + (r.outcomes[o] ?? 0), 0), 0));
  const max = Math.max(1, ...totals);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H + 30}`} role="img" aria-label="decisions per recent run, by outcome" xmlns="http://www.w3.org/2000/svg">
        <line x1="30" y1={H} x2={W} y2={H} class="axis" />
        <text x="26" y="12" class="tick" text-anchor="end">
          {max}
        </text>
        <text x="26" y={H} class="tick" text-anchor="end">
          0
        </text>
        {runs.map((r, i) => {
          let y = H;
          const x = 36 + i * (bw + 4);
          return (
            <a href={`/runs/${r.id}`}>
              <title>{`run #${r.id} ${iso(r.startedAt)} ${r.mode} ${r.status}: ${outcomeText(r.outcomes)}`}</title>
              {r.status === 'failed' || r.status === 'interrupted' ? <rect x={x} y={H - 6} width={bw} height="6" class="g-runfailed" /> : null}
              {GROUPS.map((g) => {
                const v = g.outcomes.reduce((b, o) => b + (r.outcomes[o] ?? 0), 0);
                if (!v) return null;
                const h = Math.max(1, Math.round((v / max) * (H - 10)));
                y -= h;
                return <rect x={x} y={y} width={bw} height={h} class={`g-${g.cls}`} />;
              })}
              {n <= 30 ? (
                <text x={x + bw / 2} y={H + 14} class="tick" text-anchor="middle">
                  {r.id}
                </text>
              ) : null}
            </a>
          );
        })}
      </svg>
      <figcaption>
        {GROUPS.map((g) => (
          <span class="legend">
            <svg width="10" height="10" aria-hidden="true">
              <rect width="10" height="10" class={`g-${g.cls}`} />
            </svg>{' '}
            {g.name}
          </span>
        ))}
        <span class="legend">
          <svg width="10" height="10" aria-hidden="true">
            <rect width="10" height="10" class="g-runfailed" />
          </svg>{' '}
          run failed
        </span>
      </figcaption>
    </figure>
  );
};

// ---------------------------------------------------------------- overview

const SwitchForms: FC<{ viewer: Viewer; off: boolean }> = ({ viewer, off }) =>
  off ? (
    <ChangeForm viewer={viewer} action="/switch">
      <input type="hidden" name="state" value="on" />
      <input type="hidden" name="back" value={viewer.path} />
      <label>
        reason <input name="reason" placeholder="incident over" maxlength={1000} />
      </label>
      <button type="submit" class="go" id="switch-on">
        Switch automation back on
      </button>
    </ChangeForm>
  ) : (
    <ChangeForm viewer={viewer} action="/switch">
      <input type="hidden" name="state" value="off" />
      <input type="hidden" name="back" value={viewer.path} />
      <label>
        reason <input name="reason" required placeholder="INC-123: hands off during the DB failover" maxlength={1000} />
      </label>
      <label>
        until <input name="until" placeholder="2h or 2026-12-03T18:00Z (empty: until switched on)" />
      </label>
      <button type="submit" class="stop" id="switch-off">
        Switch all automation off
      </button>
    </ChangeForm>
  );

export const OverviewPage: FC<{ o: Overview; viewer: Viewer }> = ({ o, viewer }) => (
  <Layout title="Overview" viewer={viewer}>
    <section class="cards">
      <div class={`card ${o.automation === 'off' ? 'bad' : 'good'}`} id="automation">
        <h2>Automation</h2>
        <p class="big">{o.automation === 'off' ? 'OFF' : 'ON'}</p>
        {o.switchText ? <p>{s(o.switchText)}</p> : <p class="muted">runs act as their rules say</p>}
        {o.activeDisables ? (
          <p>
            <a href="/guardrails">{o.activeDisables} active disable(s)</a>
          </p>
        ) : null}
      </div>
      <div class={`card ${o.lastRun && o.lastRun.status !== 'ok' && o.lastRun.status !== 'running' ? 'bad' : ''}`} id="last-run">
        <h2>Last run</h2>
        {o.lastRun ? (
          <>
            <p class="big">
              <a href={`/runs/${o.lastRun.id}`}>#{o.lastRun.id}</a> {o.lastRun.status}
            </p>
            <p>
              {o.lastRun.mode}, started {ago(o.now, o.lastRun.startedAt)} ({iso(o.lastRun.startedAt)})
            </p>
          </>
        ) : (
          <p class="muted">no run recorded yet</p>
        )}
      </div>
      <div class={`card ${o.escalations.length ? 'warn' : ''}`}>
        <h2>Open escalations</h2>
        <p class="big">{o.escalations.length}</p>
      </div>
      <div class={`card ${o.pendingApprovals ? 'warn' : ''}`} id="pending-approvals">
        <h2>Awaiting approval</h2>
        <p class="big">
          <a href="/approvals">{o.pendingApprovals}</a>
        </p>
        <p class="muted">decisions waiting for a person</p>
        {o.ineffective ? (
          <p>
            <a href="/verifications">{o.ineffective} ineffective action(s)</a> stop their rule
          </p>
        ) : null}
      </div>
      <div class={`card ${o.interrupted.length ? 'bad' : ''}`}>
        <h2>Interrupted</h2>
        <p class="big">{o.interrupted.length}</p>
        <p class="muted">executions whose outcome is unknown (7 days)</p>
      </div>
    </section>
    <NeedLogin viewer={viewer} what="switch automation off or on" />
    <SwitchForms viewer={viewer} off={o.automation === 'off'} />

    <h2>Recent runs</h2>
    {o.recent.length ? <RunChart runs={o.recent} /> : <p class="muted">no runs yet</p>}

    <h2>Open escalations</h2>
    {o.escalations.length ? (
      <table>
        <thead>
          <tr>
            <th>cause</th>
            <th>channel</th>
            <th>summary</th>
            <th>since</th>
            <th>seen</th>
          </tr>
        </thead>
        <tbody>
          {o.escalations.map((e) => (
            <tr>
              <td class="mono">{s(e.dedupKey)}</td>
              <td>{s(e.channel)}</td>
              <td>{s(e.summary)}</td>
              <td>{iso(e.firstAt)}</td>
              <td>{e.count}×</td>
            </tr>
          ))}
        </tbody>
      </table>
    ) : (
      <p class="muted">none</p>
    )}

    <h2>Breakers and limits {o.breakers.run ? <a href={`/runs/${o.breakers.run}`}>in run #{o.breakers.run}</a> : null}</h2>
    {o.breakers.stopped.length ? (
      <table>
        <thead>
          <tr>
            <th>guardrail</th>
            <th>stopped</th>
            <th>detail</th>
            <th>for example</th>
          </tr>
        </thead>
        <tbody>
          {o.breakers.stopped.map((g) => (
            <tr>
              <td class="mono">{g.reason}</td>
              <td>{g.count}</td>
              <td>{s(g.detail)}</td>
              <td>
                {g.examples.map((x) => (
                  <a href={whyHref(o.breakers.run!, x.target, x.rule)}>{`${s(x.rule)} on ${s(x.target)} `}</a>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    ) : (
      <p class="muted">none tripped</p>
    )}

    <h2>Interrupted executions</h2>
    {o.interrupted.length ? <ExecTable rows={o.interrupted} /> : <p class="muted">none: every execution of the last 7 days has a known outcome</p>}

    <h2>Shadow mode {o.shadow.run ? <a href={`/runs/${o.shadow.run}`}>in run #{o.shadow.run}</a> : null}</h2>
    <p class="muted">What rules still in dry-run mode would have done in the latest enforcing run.</p>
    {o.shadow.decisions.length ? <DecisionTable rows={o.shadow.decisions.slice(0, 100)} /> : <p class="muted">nothing</p>}
  </Layout>
);

// ---------------------------------------------------------------- tables

export const DecisionTable: FC<{ rows: DecisionRecord[]; showRun?: boolean }> = ({ rows, showRun }) => (
  <table class="decisions">
    <thead>
      <tr>
        {showRun ? <th>run</th> : null}
        <th>outcome</th>
        <th>rule</th>
        <th>target</th>
        <th>why (last verdict)</th>
        <th />
      </tr>
    </thead>
    <tbody>
      {rows.map((d) => {
        const v = lastVerdict(d);
        return (
          <tr>
            {showRun ? (
              <td>
                <a href={`/runs/${d.runId}`}>#{d.runId}</a>
              </td>
            ) : null}
            <td>
              <Outcome o={d.outcome} />
            </td>
            <td>{s(d.rule)}</td>
            <td>
              <a href={targetHref(d.target)}>{s(d.target)}</a>
            </td>
            <td>{v ? `${s(v.reason)}: ${s(v.detail)}` : ''}</td>
            <td>
              <a class="why" href={whyHref(d.runId, d.target, d.rule)}>
                why
              </a>
            </td>
          </tr>
        );
      })}
    </tbody>
  </table>
);

export const ExecTable: FC<{ rows: ExecutionRecord[] }> = ({ rows }) => (
  <table class="executions">
    <thead>
      <tr>
        <th>#</th>
        <th>status</th>
        <th>rule</th>
        <th>action</th>
        <th>target</th>
        <th>intent → started → finished</th>
        <th>result</th>
        <th>run</th>
      </tr>
    </thead>
    <tbody>
      {rows.map((e) => (
        <tr>
          <td>{e.id}</td>
          <td>
            <span class={`status s-${e.status.replace(/[^a-z_]/g, '')}`}>{e.status}</span>
          </td>
          <td>{s(e.rule)}</td>
          <td>{s(e.action)}</td>
          <td>
            <a href={targetHref(e.target)}>{s(e.target)}</a>
          </td>
          <td class="mono small">
            {iso(e.createdAt)} → {iso(e.startedAt)} → {iso(e.finishedAt)}
          </td>
          <td>
            {e.exitCode !== null ? `exit ${e.exitCode}` : e.httpStatus !== null ? `HTTP ${e.httpStatus}` : ''}
            {e.durationMs !== null ? ` ${e.durationMs} ms` : ''}
            <details>
              <summary>{s(e.describe).slice(0, 80)}</summary>
              <pre>{s(e.describe)}</pre>
              {e.error ? <pre class="error">{s(e.error)}</pre> : null}
              {e.output ? <pre>{s(e.output)}</pre> : null}
            </details>
          </td>
          <td>
            <a href={whyHref(e.runId, e.target, e.rule)}>#{e.runId}</a>
          </td>
        </tr>
      ))}
    </tbody>
  </table>
);

// ---------------------------------------------------------------- runs

export const RunsPage: FC<{ r: M<'runs'>; viewer: Viewer }> = ({ r, viewer }) => (
  <Layout title="Runs" viewer={viewer}>
    <table class="runs">
      <thead>
        <tr>
          <th>run</th>
          <th>started</th>
          <th>mode</th>
          <th>status</th>
          <th>duration</th>
          <th>targets</th>
          <th>outcomes</th>
          <th>problems</th>
          <th>runner</th>
        </tr>
      </thead>
      <tbody>
        {r.runs.map((run: RunRecord) => {
          const sm = run.summary as { targets?: number; problems?: unknown[] };
          return (
            <tr>
              <td>
                <a href={`/runs/${run.id}`}>#{run.id}</a>
              </td>
              <td>{iso(run.startedAt)}</td>
              <td>{run.mode}</td>
              <td>
                <span class={`status s-${run.status.replace(/[^a-z_]/g, '')}`}>{run.status}</span>
              </td>
              <td>{run.finishedAt ? `${run.finishedAt - run.startedAt} ms` : 'unfinished'}</td>
              <td>{sm.targets ?? '?'}</td>
              <td>{outcomeText(outcomesOf(run))}</td>
              <td>{sm.problems?.length || ''}</td>
              <td class="small">
                {s(run.holder)}
                {run.shard ? ` (${s(run.shard)})` : ''}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
    {r.runs.length === 0 ? <p class="muted">no runs recorded</p> : null}
    <Pager base="/runs" q={{}} page={r.page} more={r.more} />
  </Layout>
);

export const RunPage: FC<{ d: M<'runDetail'>; viewer: Viewer }> = ({ d, viewer }) => {
  const seen = OUTCOMES.filter((o) => d.rules.some((r) => r.counts[o]));
  const maxMs = Math.max(1, ...d.timings.map((t) => t.ms));
  return (
    <Layout title={`Run #${d.run.id}`} viewer={viewer}>
      <p>
        {d.run.mode}, <span class={`status s-${d.run.status.replace(/[^a-z_]/g, '')}`}>{d.run.status}</span>, started {iso(d.run.startedAt)}
        {d.run.finishedAt ? `, took ${d.run.finishedAt - d.run.startedAt} ms` : ', not finished'}; runner {s(d.run.holder)}
        {d.run.shard ? ` (${s(d.run.shard)})` : ''}; rules {d.run.ruleSetHash.slice(0, 12)}
      </p>
      <p>
        <a href={href('/decisions', { run: d.run.id })}>All decisions of this run</a> ·{' '}
        <a href={href(`/api/v1/runs/${d.run.id}`)} class="muted">
          JSON
        </a>
      </p>
      <h2>Outcomes per rule</h2>
      {d.rules.length ? (
        <table class="counts">
          <thead>
            <tr>
              <th>rule</th>
              <th>evaluated</th>
              {seen.map((o) => (
                <th>
                  <Outcome o={o} />
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {d.rules.map((r) => (
              <tr>
                <td>{s(r.rule)}</td>
                <td class="num">{r.counts.evaluated ?? ''}</td>
                {seen.map((o) =>
                  r.counts[o] ? (
                    <td class="num">
                      {o === 'not_matched' ? r.counts[o] : <a href={href('/decisions', { run: d.run.id, rule: r.rule, outcome: o })}>{r.counts[o]}</a>}
                    </td>
                  ) : (
                    <td />
                  ),
                )}
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">no rule counts recorded</p>
      )}
      <h2>Sources</h2>
      <table class="sources">
        <thead>
          <tr>
            <th>source</th>
            <th>kind</th>
            <th>status</th>
            <th>time</th>
            <th>targets</th>
            <th>error or warnings</th>
          </tr>
        </thead>
        <tbody>
          {d.sources.map((x) => (
            <tr>
              <td>{s(x.name)}</td>
              <td>{s(x.kind)}</td>
              <td>
                <span class={`status s-${String(x.status).replace(/[^a-z_]/g, '')}`}>{s(x.status)}</span>
              </td>
              <td class="num">{x.durationMs} ms</td>
              <td class="num">{x.targets}</td>
              <td>{s([x.error, ...x.warnings].filter(Boolean).join('; '))}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Stage timings</h2>
      <table class="timings">
        <tbody>
          {d.timings.map((t) => (
            <tr>
              <td>{s(t.stage)}</td>
              <td class="num">{Math.round(t.ms * 10) / 10} ms</td>
              <td class="barcell">
                <svg width="300" height="10" aria-hidden="true">
                  <rect width={Math.max(1, Math.round((t.ms / maxMs) * 300))} height="10" class="bar" />
                </svg>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {d.problems.length ? (
        <>
          <h2>Problems</h2>
          <ul>
            {d.problems.map((p) => (
              <li>
                {s(p.stage)} {s(p.reason)}: {s(p.detail)}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </Layout>
  );
};

// ---------------------------------------------------------------- decisions

export const DecisionsPage: FC<{ r: M<'decisionsPage'>; f: DecisionFilter; rules: string[]; viewer: Viewer }> = ({ r, f, rules, viewer }) => {
  const q = { run: f.run, rule: f.rule, outcome: f.outcome, target: f.target, label: f.label };
  return (
    <Layout title="Decisions" viewer={viewer}>
      <form method="get" action="/decisions" class="filters" id="filters">
        <label>
          run <input name="run" value={f.run ?? ''} inputmode="numeric" size={6} placeholder="any" />
        </label>
        <label>
          rule{' '}
          <select name="rule">
            <option value="">any</option>
            {rules.map((n) => (
              <option value={n} selected={f.rule === n}>
                {s(n)}
              </option>
            ))}
          </select>
        </label>
        <label>
          outcome{' '}
          <select name="outcome">
            <option value="">any</option>
            {OUTCOMES.filter((o) => o !== 'not_matched').map((o) => (
              <option value={o} selected={f.outcome === o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <label>
          target <input name="target" value={f.target ?? ''} placeholder="exact id" />
        </label>
        <label>
          label <input name="label" value={f.label ?? ''} placeholder="service=checkout" />
        </label>
        <button type="submit">Filter</button> <a href="/decisions">clear</a>
      </form>
      <p class="muted">
        {r.run !== null ? (
          <>
            Run <a href={`/runs/${r.run}`}>#{r.run}</a>
            {f.run === undefined ? ' (the latest; give a target or a rule to search across runs)' : ''}: {r.total} decision(s).{' '}
          </>
        ) : (
          'Across runs, newest first. '
        )}
        {r.run !== null
          ? 'Every decision of the run but the not-matched ones (derived and unknown ones are recomputed from its snapshot)'
          : 'The decisions runs stored'}
        : open a target's why to see every rule, matched or not.
      </p>
      {r.decisions.length ? <DecisionTable rows={r.decisions} showRun={true} /> : <p class="empty">no decision matches these filters</p>}
      <Pager base="/decisions" q={q} page={r.page} more={r.more} />
    </Layout>
  );
};

export const WhyPage: FC<{ w: { doc: WhyDoc; text: string }; rule?: string; viewer: Viewer }> = ({ w, rule, viewer }) => {
  const t = w.doc.target;
  return (
    <Layout title={`Why: ${s(t.id)} in run #${w.doc.run}`} viewer={viewer}>
      <p>
        <a href={targetHref(t.id)}>History of {s(t.id)}</a> · <a href={`/runs/${w.doc.run}`}>run #{w.doc.run}</a>
        {rule ? (
          <>
            {' '}
            · <a href={whyHref(w.doc.run, t.id)}>all rules for this target</a>
          </>
        ) : null}{' '}
        ·{' '}
        <a class="muted" href={href('/api/v1/why', { run: w.doc.run, target: t.id, rule })}>
          JSON
        </a>
      </p>
      <p class="muted">
        Exactly what <code>{`reflex why ${s(t.id)} --run ${w.doc.run}${rule ? ` --rule ${s(rule)}` : ''}`}</code> prints:
      </p>
      <pre class="why" id="why">
        {s(w.text)}
      </pre>
      {w.doc.decisions.length > 1 && !rule ? (
        <p>
          One rule:{' '}
          {w.doc.decisions.map((d) => (
            <>
              <a href={whyHref(w.doc.run, t.id, d.rule)}>{s(d.rule)}</a>{' '}
            </>
          ))}
        </p>
      ) : null}
    </Layout>
  );
};

// ---------------------------------------------------------------- target, executions

export const TargetPage: FC<{ r: M<'target'>; page: number; viewer: Viewer }> = ({ r, page, viewer }) => (
  <Layout title={`Target ${s(r.id)}`} viewer={viewer}>
    {r.seen ? (
      <dl class="facts">
        <dt>kind</dt>
        <dd>{s(r.seen.kind)}</dd>
        <dt>labels</dt>
        <dd>
          {Object.entries(r.seen.labels).map(([k, v]) => (
            <a class="chip" href={href('/decisions', { label: `${k}=${v}` })}>{`${s(k)}=${s(v)}`}</a>
          ))}
        </dd>
        {r.seen.depends_on.length ? (
          <>
            <dt>depends on</dt>
            <dd>
              {r.seen.depends_on.map((x) => (
                <a class="chip" href={targetHref(x)}>
                  {s(x)}
                </a>
              ))}
            </dd>
          </>
        ) : null}
        <dt>latest run</dt>
        <dd>
          <a href={whyHref(r.seen.run, r.id)}>why, in run #{r.seen.run}</a>
        </dd>
      </dl>
    ) : (
      <p class="muted">not seen in the latest run</p>
    )}
    <h2>Decisions across runs</h2>
    {r.decisions.length ? (
      <DecisionTable rows={r.decisions} showRun={true} />
    ) : (
      <p class="muted">no stored decision (only not-matched ones, which are recomputed)</p>
    )}
    <Pager base="/target" q={{ id: r.id }} page={page} more={r.more} />
    <h2>Executions</h2>
    {r.executions.length ? <ExecTable rows={r.executions} /> : <p class="muted">none</p>}
    <h2>Verifications and approvals</h2>
    <p class="muted">
      As <code>reflex why</code> prints them (latest first, as of now). <a href="/verifications">All verifications</a> · <a href="/approvals">All approvals</a>
    </p>
    {r.verifications.length || r.approvals.length ? (
      <ul class="lines" id="human">
        {r.verifications.map((v) => (
          <li class={v.status === 'ineffective' && v.clearedAt === null ? 'bad' : ''}>{s(verificationLine(v, Date.now()))}</li>
        ))}
        {r.approvals.map((a) => (
          <li>
            <a href={`/approvals#approval-${a.id}`}>{s(approvalLine(a, Date.now()))}</a>
          </li>
        ))}
      </ul>
    ) : (
      <p class="muted">none</p>
    )}
  </Layout>
);

const STATUSES = ['intent', 'running', 'succeeded', 'failed', 'timed_out', 'interrupted'];

export const ExecutionsPage: FC<{ r: M<'executions'>; f: { status?: string; rule?: string; target?: string }; rules: string[]; viewer: Viewer }> = ({
  r,
  f,
  rules,
  viewer,
}) => (
  <Layout title="Executions journal" viewer={viewer}>
    <form method="get" action="/executions" class="filters">
      <label>
        status{' '}
        <select name="status">
          <option value="">any</option>
          {STATUSES.map((x) => (
            <option value={x} selected={f.status === x}>
              {x}
            </option>
          ))}
        </select>
      </label>
      <label>
        rule{' '}
        <select name="rule">
          <option value="">any</option>
          {rules.map((n) => (
            <option value={n} selected={f.rule === n}>
              {s(n)}
            </option>
          ))}
        </select>
      </label>
      <label>
        target <input name="target" value={f.target ?? ''} placeholder="exact id" />
      </label>
      <button type="submit">Filter</button> <a href="/executions">clear</a>
    </form>
    <p class="muted">Every action is journaled as an intent before it starts. An interrupted one is never re-run blindly: check it by hand.</p>
    {r.executions.length ? <ExecTable rows={r.executions} /> : <p class="empty">no execution matches</p>}
    <Pager base="/executions" q={f} page={r.page} more={r.more} />
  </Layout>
);

// ---------------------------------------------------------------- approvals, verifications

const Notice: FC<{ notice?: { error: boolean; text: string } }> = ({ notice }) =>
  notice ? (
    <p class={notice.error ? 'error' : 'notice'} role={notice.error ? 'alert' : 'status'} id="notice">
      {s(notice.text)}
    </p>
  ) : null;

function factsText(f: Record<string, unknown>): string {
  return (
    Object.entries(f)
      .map(([k, v]) => `${k} = ${v === null || v === undefined ? 'unknown' : JSON.stringify(v)}`)
      .join(', ') || 'none read'
  );
}

const ApprovalRow: FC<{ a: ApprovalRecord; now: number; viewer: Viewer }> = ({ a, now, viewer }) => (
  <tr id={`approval-${a.id}`}>
    <td>{a.id}</td>
    <td>
      <a href={href('/decisions', { rule: a.rule })}>{s(a.rule)}</a>
    </td>
    <td>
      <a href={targetHref(a.target)}>{s(a.target)}</a>
    </td>
    <td>
      {a.actions.map((x) => (
        <div>
          <span class="mono">{s(x.action)}</span>: <code>{s(x.describe)}</code>
        </div>
      ))}
      <div class="small muted">facts: {s(factsText(a.facts))}</div>
    </td>
    <td>
      {s(guardWords(a.guard))}: {s(a.why)}
    </td>
    <td>
      {iso(a.askedAt)}
      <div class="small muted">{ago(now, a.askedAt)}</div>
    </td>
    <td>{`lasts ${formatDuration(a.expiresMs)} once approved`}</td>
    <td>
      <a href={whyHref(a.askedRun, a.target, a.rule)}>run #{a.askedRun}</a>
    </td>
    <td>
      <ChangeForm viewer={viewer} action={`/approvals/${a.id}/approve`} class="change answer">
        <input name="reason" required placeholder="why (required)" maxlength={1000} aria-label={`reason to approve #${a.id}`} />
        <input name="expires" placeholder={formatDuration(a.expiresMs)} size={5} aria-label={`expiry of the approval #${a.id}`} />
        <button type="submit" class="go" id={`approve-${a.id}`}>
          Approve
        </button>
      </ChangeForm>
      <ChangeForm viewer={viewer} action={`/approvals/${a.id}/reject`} class="change answer">
        <input name="reason" required placeholder="why (required)" maxlength={1000} aria-label={`reason to reject #${a.id}`} />
        <button type="submit" class="stop" id={`reject-${a.id}`}>
          Reject
        </button>
      </ChangeForm>
      {viewer.name ? null : (
        <div class="small mono">
          {approveCommand(a.id)}
          <br />
          {rejectCommand(a.id)}
        </div>
      )}
    </td>
  </tr>
);

export const ApprovalsPage: FC<{ a: M<'approvals'>; viewer: Viewer; notice?: { error: boolean; text: string } }> = ({ a, viewer, notice }) => (
  <Layout title="Approvals" viewer={viewer}>
    <Notice notice={notice} />
    <p class="muted">
      An approval is one use: the next scheduled run acts once, and only if the decision still holds on fresh facts with the same action and parameters, and the
      off switch, disables and cooldowns allow it. Approvals and rejections are audited.
    </p>
    <h2>Awaiting approval</h2>
    <NeedLogin viewer={viewer} what="approve or reject" />
    {a.pending.length ? (
      <table class="approvals" id="pending">
        <thead>
          <tr>
            <th>#</th>
            <th>rule</th>
            <th>target</th>
            <th>actions, with parameters</th>
            <th>asked by</th>
            <th>asked</th>
            <th>expires</th>
            <th>decision</th>
            <th>answer</th>
          </tr>
        </thead>
        <tbody>
          {a.pending.map((x) => (
            <ApprovalRow a={x} now={a.now} viewer={viewer} />
          ))}
        </tbody>
      </table>
    ) : (
      <p class="empty">no decision is awaiting approval</p>
    )}
    <h2>Recently answered or closed</h2>
    {a.recent.length ? (
      <table class="approvals" id="answered">
        <thead>
          <tr>
            <th>#</th>
            <th>state</th>
            <th>rule</th>
            <th>target</th>
            <th>actions</th>
            <th>how it stands</th>
          </tr>
        </thead>
        <tbody>
          {a.recent.map((x) => (
            <tr id={`approval-${x.id}`}>
              <td>{x.id}</td>
              <td>
                <span class={`status s-${x.status}`}>{x.status}</span>
              </td>
              <td>{s(x.rule)}</td>
              <td>
                <a href={targetHref(x.target)}>{s(x.target)}</a>
              </td>
              <td class="small">{s(x.actions.map((y) => y.describe).join('; then '))}</td>
              <td>
                {s(describeState(x, a.now))}
                {x.usedRun !== null ? (
                  <>
                    {' '}
                    <a href={whyHref(x.usedRun, x.target, x.rule)}>why</a>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    ) : (
      <p class="muted">none</p>
    )}
  </Layout>
);

const VerificationRows: FC<{ rows: VerificationRecord[]; now: number; viewer: Viewer; clear: boolean }> = ({ rows, now, viewer, clear }) => (
  <table class="verifications">
    <thead>
      <tr>
        <th>execution</th>
        <th>state</th>
        <th>rule</th>
        <th>target</th>
        <th>verdict</th>
        {clear ? <th>let it act again</th> : null}
      </tr>
    </thead>
    <tbody>
      {rows.map((v) => (
        <tr class={v.status === 'ineffective' && v.clearedAt === null ? 'bad' : ''}>
          <td>
            <a href={whyHref(v.runId, v.target, v.rule)}>#{v.executionId}</a>
          </td>
          <td>
            <span class={`status s-${v.status}`}>{v.status}</span>
          </td>
          <td>{s(v.rule)}</td>
          <td>
            <a href={targetHref(v.target)}>{s(v.target)}</a>
          </td>
          <td>{s(verificationLine(v, now))}</td>
          {clear ? (
            <td>
              <code class="small">{s(`reflex enable --rule ${v.rule} --target ${v.target} --reason "..."`)}</code>
              <ChangeForm viewer={viewer} action="/verifications/clear" class="change answer">
                <input type="hidden" name="execution" value={String(v.executionId)} />
                <input name="reason" placeholder="reason" maxlength={1000} aria-label={s(`reason to let ${v.rule} act on ${v.target} again`)} />
                <button type="submit" class="go">
                  Let it act again
                </button>
              </ChangeForm>
            </td>
          ) : null}
        </tr>
      ))}
    </tbody>
  </table>
);

export const VerificationsPage: FC<{ v: M<'verifications'>; viewer: Viewer; notice?: { error: boolean; text: string } }> = ({ v, viewer, notice }) => (
  <Layout title="Verifications" viewer={viewer}>
    <Notice notice={notice} />
    <p class="muted">
      Whether a succeeded action fixed the problem (<code>verify:</code>). An ineffective one stops its rule on its target (guard{' '}
      <code>verify:ineffective</code>) until the problem clears or a person lets the rule act again.
    </p>
    <h2>Ineffective: stopping their rule</h2>
    <NeedLogin viewer={viewer} what="let a rule act again" />
    {v.stopping.length ? (
      <VerificationRows rows={v.stopping} now={v.now} viewer={viewer} clear={true} />
    ) : (
      <p class="empty">none: no rule is stopped by an action that did not help</p>
    )}
    <h2>Recent</h2>
    {v.recent.length ? <VerificationRows rows={v.recent} now={v.now} viewer={viewer} clear={false} /> : <p class="muted">none</p>}
  </Layout>
);

// ---------------------------------------------------------------- guardrails

export const GuardrailsPage: FC<{ g: M<'guardrails'>; viewer: Viewer; rules: string[]; actions: string[] }> = ({ g, viewer, rules, actions }) => (
  <Layout title="Switch, disables and audit" viewer={viewer}>
    <section class={`card wide ${g.automation === 'off' ? 'bad' : 'good'}`} id="switch">
      <h2>Off switch: automation is {g.automation === 'off' ? 'OFF' : 'ON'}</h2>
      {g.switchText ? <p>{s(g.switchText)}</p> : null}
      <NeedLogin viewer={viewer} what="switch automation off or on" />
      <SwitchForms viewer={viewer} off={g.automation === 'off'} />
    </section>
    <h2>Disables</h2>
    <NeedLogin viewer={viewer} what="disable or enable rules, actions, targets or label selectors" />
    <ChangeForm viewer={viewer} action="/disables" class="change grid">
      <label>
        scope{' '}
        <select name="scope">
          <option value="rule">rule</option>
          <option value="action">action</option>
          <option value="target">target</option>
          <option value="selector">label selector</option>
        </select>
      </label>
      <label>
        value <input name="value" required list="names" placeholder="restart-instance, web-3 or customer=acme" maxlength={500} />
      </label>
      <datalist id="names">
        {[...rules, ...actions].map((n) => (
          <option value={n} />
        ))}
      </datalist>
      <label>
        reason <input name="reason" required placeholder="why (kept in the audit log)" maxlength={1000} />
      </label>
      <label>
        until <input name="until" placeholder="2h, or an ISO time; empty: until enabled" />
      </label>
      <button type="submit" class="stop">
        Disable
      </button>
    </ChangeForm>
    <table class="disables">
      <thead>
        <tr>
          <th>#</th>
          <th>state</th>
          <th>disable</th>
          <th>since</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {g.disables.map((d) => (
          <tr class={d.active ? 'active' : 'past'}>
            <td>{d.id}</td>
            <td>{d.active ? 'active' : d.removedAt ? `lifted by ${s(d.removedBy)} ${iso(d.removedAt)}` : 'expired'}</td>
            <td>{s(d.text)}</td>
            <td>{iso(d.createdAt)}</td>
            <td>
              {d.active ? (
                <ChangeForm viewer={viewer} action={`/disables/${d.id}/enable`} class="inline">
                  <input name="reason" placeholder="reason" maxlength={1000} />
                  <button type="submit" class="go">
                    Enable
                  </button>
                </ChangeForm>
              ) : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
    {g.disables.length === 0 ? <p class="muted">no disables</p> : null}
    <h2>Audit log</h2>
    <table class="audit">
      <thead>
        <tr>
          <th>when</th>
          <th>who</th>
          <th>what</th>
          <th>detail</th>
        </tr>
      </thead>
      <tbody>
        {g.audit.map((a) => (
          <tr>
            <td>{iso(a.at)}</td>
            <td>{s(a.by)}</td>
            <td class="mono">{s(a.action)}</td>
            <td class="small">{s(auditText(a.detail))}</td>
          </tr>
        ))}
      </tbody>
    </table>
    {g.audit.length === 0 ? <p class="muted">nothing changed yet</p> : null}
  </Layout>
);

function auditText(d: Record<string, unknown>): string {
  const parts: string[] = [];
  if (d.value !== undefined) parts.push(String(d.value));
  if (d.reason) parts.push(`"${String(d.reason)}"`);
  if (typeof d.until === 'number') parts.push(`until ${new Date(d.until).toISOString()}`);
  if (d.client) parts.push(`from ${String(d.client)}${d.via ? ` (${String(d.via)})` : ''}`);
  return parts.join(' ');
}

// ---------------------------------------------------------------- rules

export const RulesPage: FC<{ rules: ReturnType<ReadModel['rules']>; hasTests: boolean; viewer: Viewer }> = ({ rules, hasTests, viewer }) => (
  <Layout title="Rules" viewer={viewer}>
    {hasTests ? null : <p class="muted">The project has no scenario files (rules/*_test.yaml): no rule is tested.</p>}
    <table class="rules">
      <thead>
        <tr>
          <th>rule</th>
          <th>kind</th>
          <th>mode</th>
          <th>severity</th>
          <th>actions</th>
          <th>scenario tests</th>
          <th>file</th>
        </tr>
      </thead>
      <tbody>
        {rules.map((r) => (
          <tr class={r.enforcedUntested ? 'warn' : ''}>
            <td>
              <a href={href('/decisions', { rule: r.name })}>{s(r.name)}</a>
            </td>
            <td>{r.kind}</td>
            <td>{r.kind === 'derive' ? '' : r.mode === 'dry-run' ? 'dry-run (shadow)' : 'enforce'}</td>
            <td>{r.severity}</td>
            <td>{s(r.actions.join(', '))}</td>
            <td>
              {!r.tests?.tested
                ? r.enforcedUntested
                  ? 'none (enforced without a test)'
                  : 'none'
                : r.tests.passing
                  ? `passing${r.tests.fired ? '' : ' (never fires in a scenario)'}`
                  : 'FAILING'}
            </td>
            <td class="small mono">{s(r.file)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </Layout>
);

// ---------------------------------------------------------------- login, errors

export const LoginPage: FC<{ viewer: Viewer; next: string; error?: string; name?: string }> = ({ viewer, next, error, name }) => (
  <Layout title="Log in" viewer={viewer}>
    {!viewer.writable ? (
      <p>
        This console is read-only: no token is configured. Start <code>reflex serve</code> with <code>REFLEX_SERVE_TOKEN</code> or <code>--token-file</code> to
        allow changes.
      </p>
    ) : (
      <form method="post" action="/login" class="login">
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <input type="hidden" name="next" value={next} />
        <label>
          your name (for the audit log) <input name="name" value={name ?? ''} required autocomplete="username" maxlength={64} />
        </label>
        <label>
          token <input name="token" type="password" required autocomplete="current-password" />
        </label>
        <button type="submit">Log in</button>
      </form>
    )}
  </Layout>
);

export const ErrorPage: FC<{ viewer: Viewer; status: number; message: string }> = ({ viewer, status, message }) => (
  <Layout title={status === 404 ? 'Not found' : status === 403 ? 'Refused' : status === 400 ? 'Cannot do that' : 'Error'} viewer={viewer}>
    <p class="error" role="alert">
      {s(message)}
    </p>
    <p>
      <a href="/">Back to the overview</a>
    </p>
  </Layout>
);
