-- Each learner's standing at each task, kept up to date by every save, so progress and the class view read one
-- row per learner and task instead of every attempt. The best attempt is the highest percent, then the most
-- tests passed, then the newest; the last is the newest id.
CREATE TABLE standings (
  learner TEXT NOT NULL,
  task TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  best_id TEXT NOT NULL,
  best_passed INTEGER NOT NULL,
  best_graded INTEGER NOT NULL,
  best_total INTEGER NOT NULL,
  best_percent DOUBLE PRECISION NOT NULL,
  last_id TEXT NOT NULL,
  completed INTEGER NOT NULL,
  PRIMARY KEY (learner, task)
);

CREATE INDEX standings_by_task ON standings (task, learner);

INSERT INTO standings (learner, task, attempts, best_id, best_passed, best_graded, best_total, best_percent,
  last_id, completed)
SELECT learner, task, attempt_count, id, passed, graded, total, percent, last_id, any_completed
FROM (
  SELECT learner, task, id, passed, graded, total, percent,
    ROW_NUMBER() OVER (PARTITION BY learner, task ORDER BY percent DESC, passed DESC, id DESC) AS best_rank,
    MAX(id) OVER (PARTITION BY learner, task) AS last_id,
    CAST(COUNT(*) OVER (PARTITION BY learner, task) AS INTEGER) AS attempt_count,
    MAX(completed) OVER (PARTITION BY learner, task) AS any_completed
  FROM attempts
) ranked
WHERE best_rank = 1;
