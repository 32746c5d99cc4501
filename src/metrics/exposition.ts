// The Prometheus text exposition format (version 0.0.4): what node_exporter's textfile collector, the Pushgateway and
// a Prometheus scrape of `reflex serve` all read. One renderer, so the three can never disagree on a name or an escape.

/** The Content-Type of a scrape answer in this format. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge';

/** A metric family: one name, one type, one help text, any number of labelled samples. */
export interface Family {
  name: string;
  type: MetricType;
  help: string;
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** `\` and newlines in HELP text; `\`, `"` and newlines in label values (the format's only escapes). */
const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Go's strconv.FormatFloat('g')-compatible enough for Prometheus: integers without a dot, and the three specials. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function labelText(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',')}}`;
}

/**
 * Render families in a stable order (as given; samples sorted by their labels), each with its HELP and TYPE even
 * when it has no sample. A family without samples is still declared: a scraper then knows the series exists at zero
 * rather than not at all. Two samples with the same labels in one family are a bug: refused.
 */
export function render(families: readonly { family: Family; samples: readonly Sample[] }[]): string {
  const out: string[] = [];
  for (const { family, samples } of families) {
    if (!METRIC_NAME.test(family.name)) throw new Error(`invalid metric name ${JSON.stringify(family.name)}`);
    out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    out.push(`# TYPE ${family.name} ${family.type}`);
    const lines = new Map<string, string>();
    for (const s of samples) {
      for (const k of Object.keys(s.labels)) {
        if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new Error(`invalid label name ${JSON.stringify(k)} on ${family.name}`);
      }
      const l = labelText(s.labels);
      if (lines.has(l)) throw new Error(`duplicate sample ${family.name}${l}`);
      lines.set(l, `${family.name}${l} ${formatValue(s.value)}`);
    }
    for (const k of [...lines.keys()].sort()) out.push(lines.get(k)!);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
