// Crash test with real processes: `reflex run` is SIGKILLed at each point of acting on an approved decision; an
// approval never makes two executions (it is used in the transaction that journals the intent).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { actionLines, crashProject, executions, openJournal, reflexAsync, setBroken, waitLeaseExpiry } from '../reliability/harness.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function approvals(dir: string): { id: number; status: string; execution_id: number | null }[] {
  const db = openJournal(dir);
  try {
    return db.prepare('SELECT id, status, execution_id FROM approvals ORDER BY id').all() as { id: number; status: string; execution_id: number | null }[];
  } finally {
    db.close();
  }
}

describe('a crash between the approval and the execution', () => {
  for (const at of ['after-intent', 'after-running', 'before-outcome'] as const) {
    it(`killed ${at}: at most one execution for the approval, never re-run, and the next runs ask anew`, async () => {
      // A 1s cooldown: after the crash nothing but the approval's one use keeps the action from running again.
      const dir = crashProject({ cooldown: '1s' });
      dirs.push(dir);
      writeFileSync(
        join(dir, 'rules.yaml'),
        'rules:\n  - name: repair\n    target: { kind: box }\n    when: { broken: facts.broken }\n    mode: approve\n    do: [{ action: append }]\n',
      );
      setBroken(dir, ['b-1']);
      const ask = await reflexAsync(dir, ['run']);
      expect(ask.stdout, ask.out).toContain('reflex approve 1 --reason');
      const ok = await reflexAsync(dir, ['approve', '1', '--reason', 'crash test', '--by', 'tester']);
      expect(ok.code, ok.out).toBe(0);
      await waitLeaseExpiry(dir);
      const killed = await reflexAsync(dir, ['run'], { REFLEX_FAILPOINT: at });
      expect(killed.signal, killed.out).toBe('SIGKILL');
      expect(approvals(dir)).toEqual([{ id: 1, status: 'used', execution_id: 1 }]);
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1100)); // past the cooldown and the lease
        await waitLeaseExpiry(dir);
        const next = await reflexAsync(dir, ['run']);
        expect([0, 1], next.out).toContain(next.code);
      }
      const ex = executions(dir);
      expect(ex.map((e) => e.id)).toEqual([1]);
      expect(['interrupted', 'succeeded']).toContain(ex[0]!.status);
      expect(actionLines(dir).length).toBe(at === 'before-outcome' ? 1 : 0);
      const after = approvals(dir);
      expect(after[0]).toEqual({ id: 1, status: 'used', execution_id: 1 });
      expect(after.slice(1).map((a) => a.status)).toEqual(['pending']);
    }, 60_000);
  }
});
