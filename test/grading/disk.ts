/** The sample tasks' tests and files as they are on disk, for grading tests to compare answers with. */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SAMPLE_TASKS } from '../tasks/fixture'

export interface DiskTest {
  name: string
  public?: boolean
  type?: string
  endpoint?: string
  input?: unknown
  expected?: unknown
  steps?: unknown[]
  description?: string
}

export const taskDir = (slug: string) => join(SAMPLE_TASKS, slug)

export function diskTests(slug: string, group: 'backend' | 'frontend' | 'html'): DiskTest[] {
  const dir = join(taskDir(slug), 'tests', group)
  return readdirSync(dir)
    .sort()
    .flatMap((file) => JSON.parse(readFileSync(join(dir, file), 'utf8')).tests)
}

/** A front end of a task: its `starter` or its `reference` folder, as `frontendCode`. */
export function frontEnd(slug: string, folder: 'starter' | 'reference'): Record<string, string> {
  const read = (name: string) => readFileSync(join(taskDir(slug), folder, name), 'utf8')
  return { 'index.html': read('index.html'), 'style.css': read('style.css'), 'script.js': read('script.js') }
}

export const solution = (slug: string) => readFileSync(join(taskDir(slug), 'solution.py'), 'utf8')

/** Every string in a value, and the compact JSON of the whole: where a secret could hide in an answer. */
export function texts(value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return [JSON.stringify(value), ...value.flatMap(texts)]
  if (value && typeof value === 'object') return [JSON.stringify(value), ...Object.values(value).flatMap(texts)]
  return [JSON.stringify(value)]
}
