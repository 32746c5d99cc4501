// Label selectors (`env: prod`, `tier: [web, api]`, `env: "!staging"`) compiled once into predicates.

export type LabelSelectorSpec = Record<string, string | string[]>;
export type LabelPredicate = (labels: Record<string, string>) => boolean;

/** Compile a selector; an empty selector matches everything (the caller decides whether that is allowed). */
export function compileSelector(sel: LabelSelectorSpec | undefined): LabelPredicate | null {
  if (!sel) return null;
  const tests: LabelPredicate[] = [];
  for (const [label, want] of Object.entries(sel)) {
    if (Array.isArray(want)) {
      const set = new Set(want);
      tests.push((l) => l[label] !== undefined && set.has(l[label]!));
    } else if (want.startsWith('!')) {
      const v = want.slice(1);
      tests.push((l) => l[label] !== v);
    } else {
      tests.push((l) => l[label] === want);
    }
  }
  if (tests.length === 0) return null;
  if (tests.length === 1) return tests[0]!;
  return (l) => {
    for (const t of tests) if (!t(l)) return false;
    return true;
  };
}

/** Canonical text of a selector (`k=v,k2=v2`), for storage and display. */
export function selectorText(sel: Record<string, string>): string {
  return Object.keys(sel)
    .sort()
    .map((k) => `${k}=${sel[k]}`)
    .join(',');
}

/** Parse `k=v,k2=v2` (as given on the command line). Empty keys or values are errors. */
export function parseSelectorText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(.+?)\s*$/.exec(part);
    if (!m) throw new Error(`invalid selector "${text}": expected label=value[,label=value]`);
    out[m[1]!] = m[2]!;
  }
  if (Object.keys(out).length === 0) throw new Error('an empty selector would match everything: name at least one label=value');
  return out;
}
