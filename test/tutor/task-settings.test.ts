/** task.json `tutor` is validated like the rest of a task: a bad value makes the task broken, with the field named. */
import { afterAll, expect, test } from 'bun:test'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadTasks } from '../../src/tasks/loader'

const root = mkdtempSync(join(tmpdir(), 'tutor-tasks-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

function taskWith(folder: string, tutor: unknown) {
  cpSync(join(import.meta.dir, '../../tasks/todo-list-app'), join(root, folder), { recursive: true })
  const manifest = JSON.parse(readFileSync(join(root, folder, 'task.json'), 'utf8'))
  writeFileSync(join(root, folder, 'task.json'), JSON.stringify({ ...manifest, name: folder, slug: folder, tutor }))
}

test('tutor settings load with the task; a bad one makes the task broken, naming the field', async () => {
  taskWith('strict', { max_hint_level: 2, autocomplete: false })
  taskWith('too-high', { max_hint_level: 5 })
  taskWith('unknown-key', { hints: true })
  const catalog = await loadTasks(root)
  expect(catalog.tasks.map((t) => [t.slug, t.tutor])).toEqual([['strict', { max_hint_level: 2, autocomplete: false }]])
  expect(catalog.broken).toEqual([
    { folder: 'too-high', problem: expect.stringMatching(/^task\.json: \/tutor\/max_hint_level /) },
    { folder: 'unknown-key', problem: expect.stringMatching(/^task\.json: \/tutor/) },
  ])
})
