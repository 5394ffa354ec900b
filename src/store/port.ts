/**
 * The Store port: everything the product remembers (attempts, conversations, regrade jobs). One adapter on Bun's
 * SQL client implements it for SQLite and PostgreSQL (sql-store.ts); nothing else touches the database.
 *
 * Learners are access identities (a key's name, `jwt:<sub>`, or `local` on an open server). Every read that takes
 * a `viewer` answers only that learner's rows unless the viewer is an admin; a row of someone else is `undefined`,
 * exactly like a row that does not exist, so a route answers both with the same 404.
 */
import type { GradeResult, GradeScore } from '../grading/model'
import type { TestSummary } from '../execution/model'
import type { HealthReport, Service } from '../services'

/** Who asks: the learner's name, and whether they may read everyone's data. */
export interface Viewer {
  learner: string
  admin: boolean
}

/** The files an attempt was graded with, as sent (each bounded by MAX_CODE_BYTES before it gets here). */
export interface AttemptFiles {
  backendCode?: string
  /** `{ "<path>": content }` (the `{ html, css, js }` form is stored as sent). */
  frontendCode?: Record<string, string>
}

/** What a grading route hands over to be saved: the answer exactly as the learner saw it (private results redacted). */
export interface NewAttempt {
  learner: string
  /** The task's slug. */
  task: string
  files: AttemptFiles
  score: GradeScore
  success: boolean
  groups: { backend: TestSummary; frontend: TestSummary; html: TestSummary }
  results: GradeResult[]
  duration_ms: number
  include_private: boolean
  /** True for an attempt made by a regrade job. */
  regrade?: boolean
  /** The regrade job that made it (its `attempts` list). */
  job?: string
}

export interface AttemptSummary {
  id: string
  task: string
  /** ISO 8601 UTC. */
  created_at: string
  score: GradeScore
  success: boolean
  duration_ms: number
  regrade: boolean
}

export interface Attempt extends AttemptSummary {
  learner: string
  files: AttemptFiles
  groups: NewAttempt['groups']
  results: GradeResult[]
  include_private: boolean
}

export interface AttemptPage {
  attempts: AttemptSummary[]
  /** The id to pass as `before` for the next (older) page; null on the last page. */
  next: string | null
}

/** One learner's standing at one task. */
export interface TaskStanding {
  task: string
  attempts: number
  best: GradeScore | null
  last: AttemptSummary | null
  /** Some attempt passed every graded test. */
  completed: boolean
}

export interface LearnerStanding {
  learner: string
  tasks: {
    task: string
    attempts: number
    best: GradeScore | null
    last_at: string | null
    last: GradeScore | null
    completed: boolean
  }[]
}

export type Role = 'system' | 'user' | 'assistant'

export interface ConversationMessage {
  role: Role
  content: string
  created_at: string
  hint_level?: number
}

export interface ConversationSummary {
  id: string
  learner: string
  task: string | null
  title: string
  created_at: string
  updated_at: string
  messages: number
}

export interface Conversation {
  id: string
  learner: string
  task: string | null
  messages: ConversationMessage[]
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed'

export interface RegradeJob {
  id: string
  task: string
  learner: string | null
  status: JobStatus
  done: number
  total: number
  attempts: string[]
  error?: string
}

/** `/health` `checks.store`: which database, whether it answered just now, and its schema version. */
export interface StoreHealth extends HealthReport {
  kind: StoreKind
  reachable: boolean
  schema_version: number | null
  error?: string
}

export type StoreKind = 'sqlite' | 'postgres'

/**
 * Every method throws StoreUnavailable (src/store/errors.ts) when the database does not answer in time or
 * refuses; the caller decides what that means (grading still answers, with `saved: false`).
 */
export interface Store extends Service {
  readonly kind: StoreKind
  /** Settles once the schema is migrated, or the database was found unreachable (retried on each use); rejects on a
   * schema newer than this server knows. */
  readonly ready: Promise<void>
  health(): Promise<{ store: StoreHealth }>

  /** Saves an attempt; resolves only once it is committed. */
  saveAttempt(attempt: NewAttempt): Promise<AttemptSummary>
  /** Newest first, the viewer's own; `limit` already validated (1..100). */
  listAttempts(viewer: Viewer, query: { task?: string; limit: number; before?: string }): Promise<AttemptPage>
  getAttempt(viewer: Viewer, id: string): Promise<Attempt | undefined>
  /** The learner's newest attempt at a task (for the tutor and regrades). */
  lastAttempt(learner: string, task: string): Promise<Attempt | undefined>
  /** Each learner's newest attempt at a task (or one learner's), oldest learner name first: what a regrade grades again. */
  latestAttempts(task: string, learner?: string): Promise<Attempt[]>
  /** One entry per task the learner has attempted (the route adds the tasks never tried). */
  progress(learner: string): Promise<TaskStanding[]>
  /** Every learner's standing, optionally at one task (admin). */
  classProgress(task?: string): Promise<LearnerStanding[]>
  /** Removes everything of one learner, for good. */
  deleteLearnerData(learner: string): Promise<{ attempts: number; conversations: number }>
  /** Removes attempts and conversations older than `days` days; answers how many rows went. */
  expire(days: number): Promise<number>

  /** A new conversation of a learner (`task` null outside a task). */
  createConversation(learner: string, task: string | null, title: string): Promise<ConversationSummary>
  /** Adds messages at the end, in order; throws StoreNotFound when the conversation is gone. */
  appendMessages(conversationId: string, messages: Omit<ConversationMessage, 'created_at'>[]): Promise<void>
  listConversations(viewer: Viewer, query: { task?: string }): Promise<ConversationSummary[]>
  getConversation(viewer: Viewer, id: string): Promise<Conversation | undefined>
  deleteConversation(viewer: Viewer, id: string): Promise<boolean>

  createJob(task: string, learner: string | null, total: number): Promise<RegradeJob>
  updateJob(id: string, change: Partial<Pick<RegradeJob, 'status' | 'done' | 'total' | 'error'>>): Promise<void>
  getJob(id: string): Promise<RegradeJob | undefined>
  /** Jobs a stopped server left queued or running become `failed`: all of them (`olderThanMs` 0), or those whose
   * runner has not been heard from for that long (another replica may still be running the others). */
  failUnfinishedJobs(olderThanMs: number): Promise<number>

  close(): Promise<void>
}
