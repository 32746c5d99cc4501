// The Kubernetes manifests, validated against the Kubernetes OpenAPI schemas (the kubernetes-models package carries
// them as compiled validators), and held to what a safe Reflex deployment needs: one runner at a time, bounded runs,
// resources, non-root with a read-only root file system.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers.js';
import { type Manifest, validateManifest as validate } from './lint.js';

const DIR = join(ROOT, 'deploy/kubernetes');
const FILES = ['single-runner-sqlite.yaml', 'sharded-postgres.yaml', 'serve.yaml'];

function load(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  for (const d of docs) if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
  return docs.map((d) => d.toJSON());
}

const pods = (m: Manifest) => (m.kind === 'CronJob' ? m.spec.jobTemplate.spec.template.spec : m.spec.template.spec);

describe('deploy/kubernetes', () => {
  it.each(FILES)('%s is valid against the Kubernetes OpenAPI schemas', (file) => {
    const docs = load(file);
    expect(docs.length).toBeGreaterThan(0);
    for (const m of docs) expect(() => validate(m), `${file}: ${m.kind} ${m.metadata?.name}`).not.toThrow();
  });

  it('the validation is real: a wrong enum, a wrong type and a missing container are refused', () => {
    const cron = load('single-runner-sqlite.yaml').find((m) => m.kind === 'CronJob');
    expect(() => validate({ ...cron, spec: { ...cron.spec, concurrencyPolicy: 'Sometimes' } })).toThrow(/concurrencyPolicy/);
    expect(() => validate({ ...cron, spec: { ...cron.spec, startingDeadlineSeconds: '30' } })).toThrow(/startingDeadlineSeconds/);
    const noContainers = structuredClone(cron);
    delete noContainers.spec.jobTemplate.spec.template.spec.containers;
    expect(() => validate(noContainers)).toThrow(/containers/);
  });

  it('the single runner: a PersistentVolumeClaim for SQLite, Forbid, a starting deadline, a time zone, bounded runs', () => {
    const docs = load('single-runner-sqlite.yaml');
    const pvc = docs.find((m) => m.kind === 'PersistentVolumeClaim');
    const cron = docs.find((m) => m.kind === 'CronJob');
    expect(pvc.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(cron.spec).toMatchObject({ concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 30, timeZone: 'Etc/UTC' });
    expect(cron.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 0 });
    // The job dies before its lease (shards.lease, 5m by default) could be taken over.
    expect(cron.spec.jobTemplate.spec.activeDeadlineSeconds).toBeLessThan(300);
    const spec = pods(cron);
    expect(spec.volumes.find((v: Manifest) => v.name === 'state').persistentVolumeClaim.claimName).toBe(pvc.metadata.name);
    expect(spec.containers[0].volumeMounts.find((v: Manifest) => v.name === 'state').mountPath).toBe('/var/lib/reflex');
  });

  it('the sharded variant runs several runners a round on PostgreSQL, spread over nodes, with no claim on a volume', () => {
    const cron = load('sharded-postgres.yaml').find((m) => m.kind === 'CronJob');
    expect(cron.spec).toMatchObject({ concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 30, timeZone: 'Etc/UTC' });
    expect(cron.spec.jobTemplate.spec.parallelism).toBeGreaterThan(1);
    const spec = pods(cron);
    expect(spec.volumes.some((v: Manifest) => v.persistentVolumeClaim)).toBe(false);
    expect(spec.affinity.podAntiAffinity).toBeDefined();
    expect(spec.containers[0].env.find((e: Manifest) => e.name === 'REFLEX_PG_PASSWORD').valueFrom.secretKeyRef).toBeDefined();
  });

  it('reflex serve: a Deployment probed on /healthz and a Service Prometheus can scrape on /metrics', () => {
    const docs = load('serve.yaml');
    const dep = docs.find((m) => m.kind === 'Deployment');
    const svc = docs.find((m) => m.kind === 'Service');
    expect(dep.spec.template.spec.containers[0].args.slice(0, 3)).toEqual(['serve', '--listen', '0.0.0.0:9797']);
    expect(dep.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe('/healthz');
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
    expect(svc.metadata.annotations['prometheus.io/path']).toBe('/metrics');
  });

  it.each(FILES)('%s: every container has resources and runs as non-root with a read-only root file system', (file) => {
    for (const m of load(file).filter((d) => d.kind === 'CronJob' || d.kind === 'Deployment')) {
      const spec = pods(m);
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
      expect(spec.automountServiceAccountToken).toBe(false);
      for (const c of spec.containers) {
        expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
        expect(c.resources.requests.cpu).toBeDefined();
        expect(c.resources.requests.memory).toBeDefined();
        expect(c.resources.limits.memory).toBeDefined();
        // A writable /tmp for actions, since the root file system is not.
        expect(c.volumeMounts.some((v: Manifest) => v.mountPath === '/tmp')).toBe(true);
      }
    }
  });
});
