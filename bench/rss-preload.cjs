// Loaded with `node --require` by the bench: writes the process's peak RSS (KiB) to $REFLEX_BENCH_RSS_FILE at exit.
// The CLI's own output is untouched.
const { writeFileSync } = require('node:fs');
const file = process.env.REFLEX_BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
