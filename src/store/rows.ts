/**
 * Rows to domain objects, one small function per table, and the one text encoding every free-text column uses.
 *
 * PostgreSQL's text cannot hold NUL, and a learner's name (a token's `sub`), a title or a chat message may contain
 * one. Free text is stored with `\` doubled and NUL written `\0` on both databases (so a file moves between them
 * unchanged); the mapping is one-to-one, so two different names never become one. JSON columns need nothing:
 * JSON.stringify already escapes NUL.
 */
import type { GradeResult } from '../grading/model'
import type {
  Attempt,
  AttemptSummary,
  ConversationMessage,
  ConversationSummary,
  JobStatus,
  RegradeJob,
  Role,
} from './port'

/** Free text as stored. */
export const put = (text: string): string => text.replaceAll('\\', '\\\\').replaceAll('\0', '\\0')
/** Stored free text back to what was put. */
export const take = (stored: string): string => stored.replace(/\\(\\|0)/g, (_, kind) => (kind === '0' ? '\0' : '\\'))
export const takeOrNull = (stored: unknown): string | null => (typeof stored === 'string' ? take(stored) : null)

/** SQLite answers 0/1, PostgreSQL may answer a boolean for an expression. */
export const flag = (value: unknown): boolean => value === true || value === 1 || value === '1'
export const int = (value: unknown): number => Number(value ?? 0)

type Row = Record<string, unknown>

export function summaryOf(row: Row): AttemptSummary {
  return {
    id: row.id as string,
    task: take(row.task as string),
    created_at: row.created_at as string,
    score: { passed: int(row.passed), graded: int(row.graded), total: int(row.total), percent: Number(row.percent) },
    success: flag(row.success),
    duration_ms: Number(row.duration_ms),
    regrade: flag(row.regrade),
  }
}

export function attemptOf(row: Row): Attempt {
  return {
    ...summaryOf(row),
    learner: take(row.learner as string),
    files: JSON.parse(row.files as string),
    groups: JSON.parse(row.group_summaries as string),
    results: JSON.parse(row.results as string) as GradeResult[],
    include_private: flag(row.include_private),
  }
}

export function conversationOf(row: Row): ConversationSummary {
  return {
    id: row.id as string,
    learner: take(row.learner as string),
    task: takeOrNull(row.task),
    title: take(row.title as string),
    created_at: row.created_at as string,
    updated_at: row.updated_at as string,
    messages: int(row.message_count),
  }
}

export function messageOf(row: Row): ConversationMessage {
  const level = row.hint_level
  return {
    role: row.role as Role,
    content: take(row.content as string),
    created_at: row.created_at as string,
    ...(level === null || level === undefined ? {} : { hint_level: int(level) }),
  }
}

export function jobOf(row: Row, attempts: string[]): RegradeJob {
  return {
    id: row.id as string,
    task: take(row.task as string),
    learner: takeOrNull(row.learner),
    status: row.status as JobStatus,
    done: int(row.done),
    total: int(row.total),
    attempts,
    ...(typeof row.error === 'string' ? { error: take(row.error) } : {}),
  }
}
