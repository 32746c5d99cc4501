// The SQLite schema as an ordered list of migrations; a store records the last one applied in schema_version.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Append only: never edit a migration that has shipped, add the next one. Times are
 * milliseconds since the epoch (INTEGER); JSON is TEXT; snapshots and caches are BLOBs.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  token INTEGER NOT NULL,
  acquired_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);

CREATE TABLE rule_sets (
  hash TEXT PRIMARY KEY,
  texts TEXT NOT NULL
);

CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  status TEXT NOT NULL,
  mode TEXT NOT NULL,
  holder TEXT NOT NULL,
  rule_set_hash TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '{}',
  shard TEXT
);
CREATE INDEX runs_started ON runs (started_at);
CREATE INDEX runs_finished ON runs (finished_at);

CREATE TABLE run_snapshots (
  run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  data BLOB NOT NULL
);

CREATE TABLE decisions (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  target TEXT NOT NULL,
  rule TEXT NOT NULL,
  outcome TEXT NOT NULL,
  severity TEXT NOT NULL,
  conditions TEXT NOT NULL,
  trace TEXT NOT NULL,
  actions TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX decisions_run ON decisions (run_id, target, rule);
CREATE INDEX decisions_target ON decisions (target, at);
CREATE INDEX decisions_rule ON decisions (rule, at);

CREATE TABLE for_state (
  rule TEXT NOT NULL,
  target TEXT NOT NULL,
  since INTEGER NOT NULL,
  runs INTEGER NOT NULL,
  last_run_id INTEGER NOT NULL,
  PRIMARY KEY (rule, target)
) WITHOUT ROWID;

-- The journal. No foreign key to runs: pruning old runs keeps the journal whole.
CREATE TABLE executions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL,
  run_id INTEGER NOT NULL,
  rule TEXT NOT NULL,
  action TEXT NOT NULL,
  step INTEGER NOT NULL,
  target TEXT NOT NULL,
  kind TEXT NOT NULL,
  describe TEXT NOT NULL,
  detail TEXT NOT NULL,
  cooldown_key TEXT NOT NULL,
  cooldown_ms INTEGER NOT NULL,
  groups TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  status TEXT NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  exit_code INTEGER,
  http_status INTEGER,
  duration_ms INTEGER,
  output TEXT,
  error TEXT
);
CREATE UNIQUE INDEX executions_key ON executions (key);
CREATE INDEX executions_created ON executions (created_at);
CREATE INDEX executions_rule ON executions (rule, created_at);
CREATE INDEX executions_target ON executions (target, created_at);
CREATE INDEX executions_run ON executions (run_id);
CREATE INDEX executions_unfinished ON executions (status) WHERE status IN ('intent', 'running');
CREATE INDEX executions_finished ON executions (rule, finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE execution_groups (
  grp TEXT NOT NULL,
  execution_id INTEGER NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
  PRIMARY KEY (grp, execution_id)
) WITHOUT ROWID;
CREATE INDEX execution_groups_execution ON execution_groups (execution_id);

CREATE TABLE cooldowns (
  key TEXT PRIMARY KEY,
  last_at INTEGER NOT NULL,
  until INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE source_cache (
  name TEXT PRIMARY KEY,
  at INTEGER NOT NULL,
  payload BLOB NOT NULL
);

CREATE TABLE switch (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  off INTEGER NOT NULL,
  by TEXT,
  reason TEXT,
  at INTEGER,
  until INTEGER
);

CREATE TABLE disables (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  scope TEXT NOT NULL,
  value TEXT NOT NULL,
  selector TEXT,
  by TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  until INTEGER,
  removed_at INTEGER,
  removed_by TEXT
);
CREATE INDEX disables_active ON disables (scope, value) WHERE removed_at IS NULL;

CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  by TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);

CREATE TABLE escalations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dedup_key TEXT NOT NULL,
  channel TEXT NOT NULL,
  status TEXT NOT NULL,
  summary TEXT NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  count INTEGER NOT NULL,
  resolved_at INTEGER
);
-- At most one open escalation per key: the dedup.
CREATE UNIQUE INDEX escalations_open ON escalations (dedup_key) WHERE status = 'open';
CREATE INDEX escalations_last ON escalations (last_at);
`,
  },
  {
    version: 2,
    name: 'executions remember their shard',
    // The shard lease an intent was journaled under: recovery of a crashed runner's executions falls
    // to whoever holds that shard next (docs/scale-out.md). NULL for runs that were not sharded.
    sql: `ALTER TABLE executions ADD COLUMN shard TEXT;`,
  },
  {
    version: 3,
    name: 'metrics',
    // Counters and last-run gauges (src/metrics): the textfile, the Pushgateway and reflex serve expose the same series.
    sql: `CREATE TABLE metrics (
  scope TEXT NOT NULL,
  name TEXT NOT NULL,
  labels TEXT NOT NULL,
  value REAL NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (scope, name, labels)
);`,
  },
  {
    version: 4,
    name: 'verifications and approvals',
    // Verification: did a succeeded execution fix the problem (docs/verification.md). Approvals: a person's one-use
    // "yes, do it" (docs/approvals.md); at most one live (pending or approved) approval per rule and target.
    sql: `
CREATE TABLE verifications (
  execution_id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL,
  rule TEXT NOT NULL,
  target TEXT NOT NULL,
  action TEXT NOT NULL,
  describe TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  within_runs INTEGER,
  within_ms INTEGER,
  expect TEXT NOT NULL,
  status TEXT NOT NULL,
  runs_checked INTEGER NOT NULL,
  checked_at INTEGER,
  settled_at INTEGER,
  detail TEXT,
  facts TEXT,
  cleared_at INTEGER,
  cleared_by TEXT
);
CREATE INDEX verifications_open ON verifications (status, cleared_at);
CREATE INDEX verifications_rule ON verifications (rule, target);

CREATE TABLE approvals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rule TEXT NOT NULL,
  target TEXT NOT NULL,
  guard TEXT NOT NULL,
  why TEXT NOT NULL,
  severity TEXT NOT NULL,
  actions TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  facts TEXT NOT NULL,
  asked_at INTEGER NOT NULL,
  asked_run INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  status TEXT NOT NULL,
  by TEXT,
  decided_at INTEGER,
  reason TEXT,
  expires_at INTEGER,
  used_at INTEGER,
  used_run INTEGER,
  execution_id INTEGER,
  note TEXT,
  closed_at INTEGER,
  cleared_at INTEGER
);
CREATE UNIQUE INDEX approvals_live ON approvals (rule, target) WHERE status IN ('pending', 'approved');
CREATE INDEX approvals_status ON approvals (status, asked_at);
`,
  },
  {
    version: 5,
    name: 'snapshots stored by change',
    // Issue 15: a run stores the targets that changed since the latest snapshot, not the fleet.
    // snapshot_targets holds each version of a target once, under the sequence number of the
    // snapshot that first had it (NULL data: the target left the fleet then); a snapshot's targets
    // are, for each id of its order, the newest version at or before its sequence number.
    // snapshot_head is the newest snapshot's order and its targets' digests (what the next run
    // compares with) and the sequence counter; snapshot_orders holds each distinct order of ids once. A snapshot recorded before
    // (seq NULL) stays whole and readable. Derived and not-matched decisions recorded before are
    // recomputed from those whole snapshots: they go. A decision's conditions, trace and actions
    // (its body) are stored once per distinct body in decision_bodies: a run that decides as the
    // one before adds one short row per decision (body NULL: the columns hold it, as before).
    sql: `
CREATE TABLE snapshot_targets (
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data TEXT
);
-- A rowid table: each run's versions are appended at its end, densely (keyed by target, new
-- versions would split pages all over the table); the index finds them by target.
CREATE UNIQUE INDEX snapshot_targets_key ON snapshot_targets (target, seq);
CREATE INDEX snapshot_targets_seq ON snapshot_targets (seq);
CREATE TABLE snapshot_orders (
  hash TEXT PRIMARY KEY,
  ids BLOB NOT NULL
);
CREATE TABLE snapshot_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  order_hash TEXT,
  digests BLOB
);
INSERT INTO snapshot_head (id, seq) VALUES (1, 0);
ALTER TABLE run_snapshots ADD COLUMN seq INTEGER;
ALTER TABLE run_snapshots ADD COLUMN order_hash TEXT;
CREATE INDEX run_snapshots_seq ON run_snapshots (seq);
CREATE TABLE decision_bodies (
  hash TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  last_run INTEGER NOT NULL
);
CREATE INDEX decision_bodies_last ON decision_bodies (last_run);
ALTER TABLE decisions ADD COLUMN body TEXT;
DELETE FROM decisions WHERE outcome IN ('derived', 'not_matched');
`,
  },
];
