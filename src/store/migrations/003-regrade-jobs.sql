-- Regrade jobs: the attempts they make carry the job's id (attempts.job_id). `heartbeat_at` is renewed by the
-- server running the job, so another replica can tell a job whose server died from one still running.
CREATE TABLE regrade_jobs (
  id TEXT PRIMARY KEY,
  task TEXT NOT NULL,
  learner TEXT,
  status TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  created_at TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL
);

CREATE INDEX regrade_jobs_by_status ON regrade_jobs (status, heartbeat_at);
