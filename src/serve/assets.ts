// The console's static files, compiled into the package: no CDN, no remote fonts, and nothing read from disk, so no
// request path can reach a file outside this list (GET /static/NAME serves only these names).

const CSS = `
:root { --bg: #fafafa; --fg: #1d232a; --muted: #667085; --line: #d8dde3; --good: #137333; --bad: #b42318; --warn: #b54708; --link: #1f5fbf;
  --acted: #2e7d32; --failed: #c62828; --escalated: #ef6c00; --blocked: #6a1b9a; --dryrun: #90a4ae; --unknown: #fbc02d; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #1d232a; color: #fff; flex-wrap: wrap; }
header a { color: #dfe6ee; text-decoration: none; }
header a.current { color: #fff; border-bottom: 2px solid #fff; }
header nav { display: flex; gap: 1rem; flex-wrap: wrap; }
header .brand { font-weight: 700; font-size: 1.1rem; color: #fff; }
header .who { margin-left: auto; }
header .who span { color: #fff; }
main { padding: 1rem 1.2rem 3rem; max-width: 1400px; }
footer { padding: 1rem 1.2rem; color: var(--muted); font-size: 12px; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .5rem; }
a { color: var(--link); }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
th { background: #f0f2f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.warn td { background: #fff7e6; }
tr.past td { color: var(--muted); }
.mono, code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.small { font-size: 12px; }
.muted { color: var(--muted); }
.empty { padding: 1rem; background: #fff; border: 1px dashed var(--line); }
pre { background: #fff; border: 1px solid var(--line); padding: .6rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.why { font-size: 13px; }
pre.error, p.error { color: var(--bad); }
p.error[role=alert], p.notice { padding: .5rem .8rem; background: #fff; border: 1px solid var(--line); border-left: 4px solid var(--bad); }
p.notice { border-left-color: var(--good); }
tr.bad td, ul.lines li.bad { background: #fdecea; }
form.change.answer { display: flex; gap: .3rem; flex-wrap: nowrap; margin: 0 0 .3rem; padding: 0; border: 0; background: none; }
form.answer input { min-width: 0; width: 9rem; }
form.answer button { white-space: nowrap; }
table.approvals th, table.verifications th { overflow-wrap: normal; }
form.answer input[name=expires] { width: 4rem; }
table.approvals td:nth-child(2), table.approvals td:nth-child(3), table.verifications td:nth-child(3), table.verifications td:nth-child(4) { overflow-wrap: normal; white-space: nowrap; }
ul.lines { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: .8rem; }
.card { background: #fff; border: 1px solid var(--line); border-left: 5px solid var(--line); padding: .6rem .9rem; }
.card.wide { margin-bottom: 1rem; }
.card h2 { margin: 0; font-size: .95rem; color: var(--muted); }
.card .big { font-size: 1.6rem; font-weight: 700; margin: .2rem 0; }
.card.good { border-left-color: var(--good); }
.card.bad { border-left-color: var(--bad); }
.card.bad .big { color: var(--bad); }
.card.warn { border-left-color: var(--warn); }
.banner.off { background: var(--bad); color: #fff; padding: .5rem 1.2rem; font-weight: 600; }
.banner.off a { color: #fff; }
.badge.readonly { background: #475467; padding: .15rem .5rem; border-radius: 3px; }
form.change, form.filters, form.login { display: flex; gap: .6rem; align-items: end; flex-wrap: wrap; margin: .8rem 0; padding: .6rem; background: #fff; border: 1px solid var(--line); }
form.login { flex-direction: column; align-items: stretch; max-width: 360px; }
form.inline { display: inline-flex; gap: .3rem; margin: 0; padding: 0; border: 0; background: none; }
label { display: flex; flex-direction: column; gap: .15rem; font-size: 12px; color: var(--muted); }
form.inline label, header label { flex-direction: row; }
input, select, button { font: inherit; padding: .3rem .45rem; border: 1px solid var(--line); border-radius: 3px; background: #fff; color: var(--fg); }
input { min-width: 12rem; }
button { cursor: pointer; background: #eef2f6; }
button.stop { background: var(--bad); color: #fff; border-color: var(--bad); }
button.go { background: var(--good); color: #fff; border-color: var(--good); }
button.link { background: none; border: 0; color: #dfe6ee; text-decoration: underline; padding: 0 .2rem; }
.outcome, .status { display: inline-block; padding: 0 .4rem; border-radius: 3px; font-size: 12px; font-weight: 600; background: #eceff1; white-space: nowrap; }
.o-executed, .s-succeeded, .s-ok { background: #e6f4ea; color: var(--acted); }
.o-failed, .o-interrupted, .s-failed, .s-interrupted, .s-timed_out, .s-timeout { background: #fdecea; color: var(--failed); }
.o-escalated { background: #fff3e0; color: var(--escalated); }
.o-blocked, .o-cooled_down, .o-deferred { background: #f3e5f5; color: var(--blocked); }
.o-unknown, .o-pending { background: #fff8e1; color: #8a6d00; }
.chip { display: inline-block; margin: 0 .3rem .2rem 0; padding: 0 .4rem; border: 1px solid var(--line); border-radius: 3px; background: #fff; text-decoration: none; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; background: #fff; border: 1px solid var(--line); padding: .6rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.pager { display: flex; gap: 1rem; margin: .6rem 0; }
figure.chart { margin: 0; background: #fff; border: 1px solid var(--line); padding: .5rem; }
figure.chart > svg { width: 100%; max-width: 900px; height: auto; }
.legend svg { vertical-align: middle; }
figure.chart .axis { stroke: var(--line); }
figure.chart .tick { font-size: 10px; fill: var(--muted); }
.legend { margin-right: 1rem; font-size: 12px; }
.g-acted { fill: var(--acted); } .g-failed { fill: var(--failed); } .g-escalated { fill: var(--escalated); }
.g-held { fill: var(--blocked); } .g-dry-run { fill: var(--dryrun); } .g-unknown { fill: var(--unknown); } .g-runfailed { fill: #000; }
.bar { fill: #5b8def; }
details summary { cursor: pointer; color: var(--muted); }
`;

/** Progressive enhancement only: every page works without it. */
const JS = `
// Ask before switching automation off or disabling: a mis-click during an incident is costly.
document.addEventListener('submit', function (e) {
  var b = e.submitter;
  if (b && b.classList.contains('stop') && !window.confirm(b.textContent.trim() + '?')) e.preventDefault();
});
// Filters apply as soon as a list changes.
document.querySelectorAll('form.filters select').forEach(function (s) {
  s.addEventListener('change', function () { s.form.submit(); });
});
`;

const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d232a"/><path d="M4 12V4h5a2.5 2.5 0 0 1 0 5H4m4 0 3 3" stroke="#fff" stroke-width="1.6" fill="none"/></svg>`;

export const ASSETS: ReadonlyMap<string, { type: string; body: string }> = new Map([
  ['console.css', { type: 'text/css; charset=utf-8', body: CSS }],
  ['console.js', { type: 'text/javascript; charset=utf-8', body: JS }],
  ['favicon.svg', { type: 'image/svg+xml', body: FAVICON }],
]);
