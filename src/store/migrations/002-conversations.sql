-- Tutor conversations of a learner, and their messages in order.
CREATE TABLE conversations (
  id TEXT PRIMARY KEY,
  learner TEXT NOT NULL,
  task TEXT,
  title TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  message_count INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX conversations_by_learner ON conversations (learner, updated_at);
CREATE INDEX conversations_by_age ON conversations (updated_at);

CREATE TABLE messages (
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  created_at TEXT NOT NULL,
  hint_level INTEGER,
  PRIMARY KEY (conversation_id, position)
);
