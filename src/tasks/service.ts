/**
 * The tasks feature's plain functions: what the routes return, built from the store's values. Private tests
 * (`public: false`) leave this feature only through `redactTest`: clients learn that they exist, never what
 * they check; the server grades them (POST /api/execute-test-cases with `task`).
 */
import type { LoadedTask } from './loader'
import { testCaseKind, type LoadTestCasesRequest, type TaskDetail, type Test, type TestGroup } from './model'
import type { TaskStore } from './store'

export const UNTITLED = 'Tests'

/**
 * A test as any client may see it. A private test keeps its title, name, kind and the field old clients tell
 * kinds apart by (`endpoint`, `type`); its input, expected value, steps and description (a judge test's
 * description is what the judge looks for) stay on the server.
 *
 * @example
 * redactTest({ title: 'Backend: Moves', name: 'blocks a win', kind: 'endpoint', endpoint: '/ai_move',
 *   input: { board }, expected: 4, public: false })
 * // → { title: 'Backend: Moves', name: 'blocks a win', kind: 'endpoint', endpoint: '/ai_move', public: false }
 */
export function redactTest(test: Test): Test {
  if (test.public) return test
  const { title, name, kind } = test
  const shown: Test = { title, name, kind, public: false }
  if (kind === 'endpoint' && typeof test.endpoint === 'string') shown.endpoint = test.endpoint
  if (kind === 'frontend_interactive') shown.type = 'frontend_interactive'
  return shown
}

/** The contract's task detail: task fields, every test (private ones redacted), and the starter files. */
export function taskDetail(task: LoadedTask): TaskDetail {
  const { name, slug, summary, description, tests, files } = task
  return { task: { name, slug, summary, description, tests: tests.map(redactTest) }, files }
}

/** An inline test from a client, with the `title`, `kind` and `public` every test carries. */
function inlineTest(test: { name: string; title?: string; [field: string]: unknown }): Test {
  const title = typeof test.title === 'string' ? test.title : UNTITLED
  return { ...test, title, kind: testCaseKind(test), public: test.public !== false }
}

/** Groups tests by title in first-seen order, leaving out private ones when `publicOnly`, redacting them otherwise. */
export function groupTests(tests: Test[], publicOnly: boolean): TestGroup[] {
  const groups = new Map<string, Test[]>()
  for (const test of tests) {
    if (publicOnly && !test.public) continue
    const group = groups.get(test.title) ?? []
    group.push(redactTest(test))
    groups.set(test.title, group)
  }
  return [...groups].map(([title, tests]) => ({ title, tests }))
}

/**
 * POST /api/load-test-cases: test folders are read from the store (never from an arbitrary path), inline
 * tests are taken as they are; the result keeps the order of the request.
 */
export async function loadTestCases(store: TaskStore, request: LoadTestCasesRequest): Promise<TestGroup[]> {
  const tests: Test[] = []
  for (const entry of request.task.tests) {
    if (typeof entry === 'string') tests.push(...(await store.testFolder(entry)))
    else tests.push(inlineTest(entry))
  }
  return groupTests(tests, request.public_only ?? true)
}
