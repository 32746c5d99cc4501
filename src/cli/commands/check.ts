// `reflex check`: load everything, compile every expression, check every reference; report all problems at once.
import { formatDiagnostic } from '../../config/diagnostics.js';
import { resolveConfigPath } from '../../config/load.js';
import { EXIT } from '../../errors.js';
import { checkConfigFile } from '../../check/index.js';

export default async function check(opts: { config?: string; json?: boolean }): Promise<number> {
  const { result, diagnostics: sorted } = await checkConfigFile(resolveConfigPath(opts.config));
  const r = result;
  const summary = r ? `${r.rules} rules, ${r.aggregates} aggregates, ${r.sources} sources, ${r.actions} actions, ${r.channels} channels` : '';
  const errors = sorted.filter((d) => d.severity === 'error');
  const warnings = sorted.length - errors.length;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ ok: errors.length === 0, errors: errors.length, warnings, problems: sorted }, null, 2)}\n`);
  } else {
    if (sorted.length) process.stdout.write(`${sorted.map(formatDiagnostic).join('\n')}\n`);
    if (errors.length) process.stdout.write(`${plural(errors.length, 'error')}${warnings ? `, ${plural(warnings, 'warning')}` : ''}\n`);
    else process.stdout.write(`ok: ${summary}${warnings ? ` (${plural(warnings, 'warning')})` : ''}\n`);
  }
  return errors.length ? EXIT.CONFIG : EXIT.OK;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
