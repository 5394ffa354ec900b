/**
 * A private copy of test/fixtures/tasks in a temp folder, with what git should not carry: a `.env`, and
 * symlinks that point outside the tasks folder (to a "secret" file that exists, so a leak would show).
 */
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const FIXTURES = resolve(import.meta.dir, '../fixtures/tasks')
export const SAMPLE_TASKS = resolve(import.meta.dir, '../../tasks')

export interface TasksFixture {
  /** The temp folder holding `tasks/` and `outside/`. */
  base: string
  /** The tasks folder to use as TASKS_DIR. */
  dir: string
  /** A file outside the tasks folder; its content must never appear in a response. */
  secret: string
  remove(): void
}

export const SECRET_TEXT = 'TOP-SECRET-OUTSIDE-FILE'

export function tasksFixture(): TasksFixture {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'tasks-fixture-')))
  const dir = join(base, 'tasks')
  cpSync(FIXTURES, dir, { recursive: true })
  const outside = join(base, 'outside')
  mkdirSync(outside)
  const secret = join(outside, 'secret.png')
  writeFileSync(secret, SECRET_TEXT)
  writeFileSync(join(outside, 'secret.css'), SECRET_TEXT)
  writeFileSync(join(dir, 'good-task/.env'), `KEY=${SECRET_TEXT}`)
  // Symlinks inside the good task that lead out of the tasks folder.
  symlinkSync(secret, join(dir, 'good-task/images/escape.png'))
  symlinkSync(outside, join(dir, 'good-task/linked-outside'))
  // A symlink named like an asset that points at a file that must not be served.
  symlinkSync(join(dir, 'good-task/solution.py'), join(dir, 'good-task/images/solution.png'))
  // A whole task whose instructions are a symlink to a file outside.
  mkdirSync(join(dir, 'symlinked-description'))
  writeFileSync(
    join(dir, 'symlinked-description/task.json'),
    JSON.stringify({ name: 'Symlinked', summary: 's', description: 'index.html', files: [], tests: {} }),
  )
  symlinkSync(join(outside, 'secret.css'), join(dir, 'symlinked-description/index.html'))
  // A task folder that is itself a symlink to a folder outside.
  symlinkSync(outside, join(dir, 'linked-task'))
  return { base, dir, secret, remove: () => rmSync(base, { recursive: true, force: true }) }
}
