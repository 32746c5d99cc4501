// Shared by the deployment tests: systemd's Key=value reading, and Kubernetes objects checked against their OpenAPI schemas.
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';

export interface Assignment {
  line: number;
  section: string;
  key: string;
  value: string;
}

/**
 * What systemd would be given for each `Key=value` line, with the line number. systemd has no trailing comments:
 * `Key=value  # note` makes "value  # note" the value, so any `#` after whitespace in a value is flagged.
 */
export function assignments(text: string): Assignment[] {
  let section = '';
  const out: Assignment[] = [];
  text.split('\n').forEach((l, i) => {
    const t = l.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) return;
    const s = /^\[(.+)\]$/.exec(t);
    if (s) {
      section = s[1]!;
      return;
    }
    const kv = /^([A-Za-z0-9]+)=(.*)$/.exec(t);
    if (!kv) throw new Error(`line ${i + 1}: not a Key=value line: ${t}`);
    out.push({ line: i + 1, section, key: kv[1]!, value: kv[2]! });
  });
  return out;
}

/** A value that carries what was meant as a comment. */
export const trailingComment = (a: Assignment) => /\s[#;]/.test(a.value);

export type Manifest = any;
const MODELS: Record<string, new (data: Manifest) => { validate(): void }> = {
  'batch/v1/CronJob': CronJob,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
};

/** Validate one object against its kind's OpenAPI schema; throws with the schema's message. */
export function validateManifest(m: Manifest): void {
  const Model = MODELS[`${m.apiVersion}/${m.kind}`];
  if (!Model) throw new Error(`no schema for ${m.apiVersion} ${m.kind}`);
  new Model(m).validate();
}
