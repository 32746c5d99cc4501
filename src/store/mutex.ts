// A tiny in-process async mutex: one store object runs one operation at a time while a transaction may await.
import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Serializes async sections in FIFO order. The holder's async context is marked, so a
 * section that calls back into the same mutex fails at once with a clear message
 * instead of waiting for itself forever.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private readonly inside = new AsyncLocalStorage<{ active: boolean }>();

  constructor(private readonly reentryMessage: string) {}

  /** True when called from inside a section of this mutex. */
  held(): boolean {
    // A section's context lives on in callbacks it scheduled; only a running section counts.
    return this.inside.getStore()?.active === true;
  }

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.held()) throw new Error(this.reentryMessage);
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    const section = { active: false };
    try {
      await previous;
      section.active = true;
      return await this.inside.run(section, fn);
    } finally {
      section.active = false;
      release();
    }
  }
}
