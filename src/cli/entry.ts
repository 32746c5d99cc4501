// Where the CLI was started from (dist/cli/main.js, or the bundle dist/bin/cli.cjs): the module a worker thread
// starts from (the console's, src/serve/worker.ts), so it exists in the package and in the build alike.
let entry: string | null = null;

export function setEntry(url: string): void {
  entry = url;
}

/** The CLI's entry module as a file: URL; null when the CLI was not started through main.ts (embedded, tests). */
export function entryUrl(): string | null {
  return entry;
}
