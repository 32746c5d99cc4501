// Loaded with `node --require` by the bench: writes the process's peak RSS (KiB) and CPU time (ms, all threads) to $REFLEX_BENCH_RSS_FILE at exit.
// The CLI's own output is untouched.
const { writeFileSync } = require('node:fs');
const file = process.env.REFLEX_BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ maxRssKb: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }));
  });
}
