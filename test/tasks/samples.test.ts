/** The sample tasks shipped in tasks/: they load cleanly and have what issue 5 promises. */
import { describe, expect, test } from 'bun:test'
import { readFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { loadTasks } from '../../src/tasks/loader'
import { SAMPLE_TASKS } from './fixture'

const catalog = loadTasks(realpathSync(SAMPLE_TASKS))
const kinds = async (name: string) => {
  const task = (await catalog).tasks.find((t) => t.name === name)!
  const backend = task.tests.filter((t) => t.title.startsWith('Backend: '))
  return {
    task,
    backend,
    interactive: task.tests.filter((t) => t.type === 'frontend_interactive' && t.kind === 'frontend_interactive'),
    judge: task.tests.filter((t) => !('type' in t) && !('endpoint' in t) && t.kind === 'judge'),
  }
}

test('all three sample tasks load without problems', async () => {
  const { tasks, broken } = await catalog
  expect(broken).toEqual([])
  expect(tasks.map((t) => [t.slug, t.name])).toEqual([
    ['calculator-app', 'Calculator App'],
    ['tic-tac-toe', 'Tic Tac Toe'],
    ['todo-list-app', 'Todo List App'],
  ])
})

test('Tic Tac Toe has 25+ mixed backend tests over its four endpoints, 6+ browser tests and 3+ judge tests', async () => {
  const { backend, interactive, judge } = await kinds('Tic Tac Toe')
  expect(backend.length).toBeGreaterThanOrEqual(25)
  expect(new Set(backend.map((t) => t.public))).toEqual(new Set([true, false]))
  expect(new Set(backend.map((t) => t.endpoint))).toEqual(
    new Set(['/check_winner', '/play_move', '/ai_move', '/reset']),
  )
  expect(interactive.length).toBeGreaterThanOrEqual(6)
  expect(judge.length).toBeGreaterThanOrEqual(3)
  // A design test may carry steps that bring the page to the state it judges.
  for (const test of judge)
    expect(
      Object.keys(test)
        .filter((key) => key !== 'steps')
        .sort(),
    ).toEqual(['description', 'kind', 'name', 'public', 'title'])
})

describe.each(['Tic Tac Toe', 'Todo List App', 'Calculator App'])('%s', (name) => {
  test('has backend and browser tests, public and private', async () => {
    const { backend, interactive, judge } = await kinds(name)
    expect(backend.length).toBeGreaterThan(0)
    expect(interactive.length + judge.length).toBeGreaterThan(0)
    expect(backend.some((t) => t.public) && backend.some((t) => !t.public)).toBe(true)
  })

  test('has the four starter files, and a stub in backend.py for every tested endpoint', async () => {
    const { task, backend } = await kinds(name)
    expect(task.files.map((f) => [f.name, f.language])).toEqual([
      ['index.html', 'html'],
      ['style.css', 'css'],
      ['script.js', 'javascript'],
      ['backend.py', 'python'],
    ])
    const starter = task.files.find((f) => f.name === 'backend.py')!.content
    const solution = readFileSync(join(task.dir, 'solution.py'), 'utf8')
    for (const endpoint of new Set(backend.map((t) => t.endpoint as string))) {
      expect(starter).toContain(`@endpoint('${endpoint}')`)
      expect(solution).toContain(`@endpoint('${endpoint}')`)
    }
  })

  test('inlines every image of its instructions', async () => {
    const { task } = await kinds(name)
    expect(task.description).toContain('<img src="data:image/')
    expect(task.description).not.toMatch(/<img[^>]*src="(?!data:)/)
  })
})
