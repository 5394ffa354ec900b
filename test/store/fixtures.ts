/** Attempts to save in store tests: the shape a grading answer has. */
import type { NewAttempt } from '../../src/store/port'

const none = { total: 0, passed: 0, failed: 0, errors: 0, skipped: 0 }

/** Text that breaks naive SQL and naive storage: quotes, comments, NUL, a statement, a backslash, non-ASCII. */
export const HOSTILE = `it's "quoted" -- comment\0 NUL '; DROP TABLE attempts; -- \\0 back\\slash é 🐍`

export function attempt(learner: string, task: string, passed: number, graded = 4, extra: Partial<NewAttempt> = {}) {
  return {
    learner,
    task,
    files: { backendCode: `# ${HOSTILE}\n@endpoint\ndef add(a, b):\n    return a + b\n` },
    score: { passed, graded, total: graded + 1, percent: graded ? Math.round((1000 * passed) / graded) / 10 : 0 },
    success: passed === graded,
    groups: { backend: { ...none, total: graded, passed, failed: graded - passed }, frontend: none, html: none },
    results: [
      {
        testName: 'adds',
        status: passed ? 'pass' : 'fail',
        message: HOSTILE,
        expected: 3,
        actual: passed ? 3 : null,
        duration_ms: 1.5,
        group: 'backend',
        kind: 'endpoint',
      },
      {
        testName: 'hidden',
        status: 'fail',
        message: 'Hidden test failed',
        expected: null,
        actual: null,
        duration_ms: 1,
        private: true,
        group: 'backend',
        kind: 'endpoint',
      },
    ],
    duration_ms: 12.5,
    include_private: true,
    ...extra,
  } satisfies NewAttempt
}
