// Loaded with `node --require` by the bench: at exit, writes to $REFLEX_BENCH_RSS_FILE the process's
// peak RSS (KiB), its CPU time (ms, all threads) and, on Linux, the CPU time of its main thread alone
// (the run's critical path: compression and parallel GC run on other threads). The CLI's own output is untouched.
const { readFileSync, writeFileSync } = require('node:fs');
const file = process.env.REFLEX_BENCH_RSS_FILE;

/** utime + stime of the main thread (/proc/self/task/PID/stat, fields 14 and 15, in clock ticks of 10 ms). */
function mainThreadCpuMs() {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

if (file) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ maxRssKb: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000, mainThreadCpuMs: mainThreadCpuMs() }));
  });
}
