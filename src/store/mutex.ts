// A tiny in-process async mutex (one store object runs one operation at a time while a transaction may await),
// and the mark of the intent transaction's callback (a store method called from there must fail, not wait).
import { AsyncLocalStorage } from 'node:async_hooks';

/** Serializes async sections in FIFO order. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      return await fn();
    } finally {
      release();
    }
  }
}

/**
 * Marks the async context of a callback while it runs, so that a call back into the store from inside it
 * fails at once with a clear message instead of waiting for the transaction it is part of. Only the
 * callback is marked, not every operation: a marked context makes every promise created in it pay
 * for the bookkeeping, and a store operation creates many.
 */
export class Reentry {
  private readonly inside = new AsyncLocalStorage<{ active: boolean }>();

  constructor(private readonly message: string) {}

  /** Throws when called from inside a callback that `run` is running. */
  refuse(): void {
    // A callback's context lives on in callbacks it scheduled; only a running one counts.
    if (this.inside.getStore()?.active === true) throw new Error(this.message);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const mark = { active: true };
    try {
      return await this.inside.run(mark, fn);
    } finally {
      mark.active = false;
    }
  }
}
