// The few error classes Reflex throws on purpose; the CLI's one handler maps them to exit codes.

/** Documented exit codes of every command. */
export const EXIT = {
  OK: 0,
  /** The command ran but found problems: a failed action or source, a failing test, a decision that needs a human. */
  PROBLEMS: 1,
  /** Configuration or usage error (bad flags, invalid reflex.yaml or rule files). */
  CONFIG: 2,
  /** The state store cannot be opened or written. Nothing was acted on that is not recorded. */
  STORE: 3,
  /** Another run holds the lease: this run did nothing (overlapping scheduled runs are normal). */
  LEASE_HELD: 4,
  /** A bug in Reflex. */
  INTERNAL: 70,
} as const;

/** A mistake of the user's: printed as a message, no stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.CONFIG,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UserError';
  }
}

/** Ends a command with an exit code after it has printed what it had to say. */
export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
    this.name = 'ExitError';
  }
}
