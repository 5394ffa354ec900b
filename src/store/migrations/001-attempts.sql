-- Attempts: one graded submission each, exactly as the learner saw its answer (private results already redacted).
-- Portable between SQLite and PostgreSQL: ids and times are text, booleans are 0/1, JSON is text.
-- Ids are UUIDv7 (time first), so "newest first" is ORDER BY id DESC and `before=<id>` is id < that id.
CREATE TABLE attempts (
  id TEXT PRIMARY KEY,
  learner TEXT NOT NULL,
  task TEXT NOT NULL,
  created_at TEXT NOT NULL,
  passed INTEGER NOT NULL,
  graded INTEGER NOT NULL,
  total INTEGER NOT NULL,
  percent DOUBLE PRECISION NOT NULL,
  success INTEGER NOT NULL,
  -- passed every graded test (and at least one was graded)
  completed INTEGER NOT NULL,
  duration_ms DOUBLE PRECISION NOT NULL,
  include_private INTEGER NOT NULL,
  regrade INTEGER NOT NULL DEFAULT 0,
  job_id TEXT,
  files TEXT NOT NULL,
  group_summaries TEXT NOT NULL,
  results TEXT NOT NULL
);

CREATE INDEX attempts_by_learner ON attempts (learner, task, id);
CREATE INDEX attempts_by_task ON attempts (task, learner, id);
CREATE INDEX attempts_by_job ON attempts (job_id);
CREATE INDEX attempts_by_age ON attempts (created_at);
