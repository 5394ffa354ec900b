/**
 * The tasks feature's plain functions: what the routes return, built from the store's values.
 */
import type { LoadedTask } from './loader'
import type { LoadTestCasesRequest, TaskDetail, Test, TestGroup } from './model'
import type { TaskStore } from './store'

export const UNTITLED = 'Tests'

/** The contract's task detail: task fields, every test, and the starter files. */
export function taskDetail(task: LoadedTask): TaskDetail {
  const { name, slug, summary, description, tests, files } = task
  return { task: { name, slug, summary, description, tests }, files }
}

/** An inline test from a client, with the `title` and `public` every test carries. */
function inlineTest(test: { name: string; title?: string; [field: string]: unknown }): Test {
  return { ...test, title: typeof test.title === 'string' ? test.title : UNTITLED, public: test.public !== false }
}

/** Groups tests by title in first-seen order, leaving out private ones when `publicOnly`. */
export function groupTests(tests: Test[], publicOnly: boolean): TestGroup[] {
  const groups = new Map<string, Test[]>()
  for (const test of tests) {
    if (publicOnly && !test.public) continue
    const group = groups.get(test.title) ?? []
    group.push(test)
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
