#!/usr/bin/env node
// A simulated webshop for the example: its state lives in .reflex/demo/state.json, so every
// Reflex action on it is real (a process runs, state changes) and harmless.
//
//   node demo/service.mjs status              facts for Reflex's "health" source (JSON)
//   node demo/service.mjs break web-2         make an instance fail its health check
//   node demo/service.mjs fill-disk web-3     fill an instance's disk to 97%
//   node demo/service.mjs restart web-2       what the restart action runs
//   node demo/service.mjs replace web-2       what the replace-instance action runs
//   node demo/service.mjs clean-disk web-3    what the clean-disk action runs
//   node demo/service.mjs scale-out webshop   what the scale-out action runs
//   node demo/service.mjs reset               everything healthy again
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const STATE = join(process.cwd(), '.reflex', 'demo', 'state.json');
const LOG = join(process.cwd(), '.reflex', 'demo', 'actions.log');
const INSTANCES = ['web-1', 'web-2', 'web-3', 'web-4'];
const HOUR = 3_600_000;

function fresh() {
  return { instances: Object.fromEntries(INSTANCES.map((id) => [id, { healthy: true, restarts: [], disk: 41 }])), scaledOut: 0 };
}
function load() {
  return existsSync(STATE) ? JSON.parse(readFileSync(STATE, 'utf8')) : fresh();
}
function save(s) {
  mkdirSync(dirname(STATE), { recursive: true });
  writeFileSync(`${STATE}.tmp`, JSON.stringify(s, null, 2));
  renameSync(`${STATE}.tmp`, STATE);
}
function instance(s, id) {
  const i = s.instances[id];
  if (!i) {
    process.stderr.write(`no instance "${id}" (instances: ${INSTANCES.join(', ')})\n`);
    process.exit(2);
  }
  return i;
}
function logAction(line) {
  mkdirSync(dirname(LOG), { recursive: true });
  appendFileSync(LOG, `${new Date().toISOString()} ${line}\n`);
}

const [cmd, arg] = process.argv.slice(2);
const s = load();
const now = Date.now();
switch (cmd) {
  case 'status':
    process.stdout.write(
      `${JSON.stringify({
        targets: INSTANCES.map((id) => {
          const i = s.instances[id];
          return { id, facts: { healthy: i.healthy, restarts_1h: i.restarts.filter((t) => now - t < HOUR).length, disk_used_pct: i.disk } };
        }),
      })}\n`,
    );
    break;
  case 'break':
    instance(s, arg).healthy = false;
    save(s);
    console.log(`${arg} now fails its health check`);
    break;
  case 'fill-disk':
    instance(s, arg).disk = 97;
    save(s);
    console.log(`${arg} disk is now 97% full`);
    break;
  case 'restart': {
    const i = instance(s, arg);
    i.healthy = true;
    i.restarts.push(now);
    save(s);
    logAction(`restart ${arg}`);
    console.log(`restarted ${arg}: healthy again`);
    break;
  }
  case 'replace': {
    s.instances[instance(s, arg) && arg] = { healthy: true, restarts: [], disk: 41 };
    save(s);
    logAction(`replace ${arg}`);
    console.log(`replaced ${arg}: a fresh instance, healthy`);
    break;
  }
  case 'clean-disk':
    instance(s, arg).disk = 55;
    save(s);
    logAction(`clean-disk ${arg}`);
    console.log(`cleaned ${arg}: disk at 55%`);
    break;
  case 'scale-out':
    s.scaledOut++;
    save(s);
    logAction(`scale-out ${arg}`);
    console.log(`scaled out ${arg}`);
    break;
  case 'reset':
    save(fresh());
    console.log('all instances healthy');
    break;
  default:
    process.stderr.write('usage: node demo/service.mjs status|break ID|fill-disk ID|restart ID|replace ID|clean-disk ID|scale-out SERVICE|reset\n');
    process.exit(2);
}
