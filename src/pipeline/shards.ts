// Shards (docs/scale-out.md): which targets a run acts for, the leases that fence them, recovery across runners,
// recorded rounds and their status. One module per concern under shards/; this file is their public face.
export { hash32, parseShardLease, shardLease, shardOf, type ShardLayout } from './shards/layout.js';
export { ShardScope } from './shards/scope.js';
export { recoverable, staleRuns } from './shards/recovery.js';
export { latestRound, roundDecisions, runCovers, runTargets } from './shards/rounds.js';
export { acquireRunLeases, isSharded, type LeaseOptions, type RunLeases } from './shards/leases.js';
export { hostOf, scaleOutStatus, type RunnerStatus, type ShardStatus } from './shards/status.js';
