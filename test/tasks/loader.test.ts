import { afterAll, describe, expect, test } from 'bun:test'
import { loadTasks } from '../../src/tasks/loader'
import { tasksFixture } from './fixture'

describe('loadTasks', () => {
  const fixture = tasksFixture()
  afterAll(() => fixture.remove())
  const catalog = loadTasks(fixture.dir)

  test('loads the valid task and skips every broken one, naming the folder and the problem', async () => {
    const { tasks, broken, problem } = await catalog
    expect(problem).toBeUndefined()
    expect(tasks.map((t) => t.slug)).toEqual(['good-task'])
    expect(broken).toEqual([
      { folder: 'bad-json', problem: expect.stringMatching(/^task\.json is not valid JSON/) },
      { folder: 'bad-schema', problem: expect.stringMatching(/^task\.json: \/summary /) },
      { folder: 'bad-test', problem: expect.stringMatching(/^tests\/backend\/01\.json: \/tests\/0\/endpoint /) },
      { folder: 'escaping-path', problem: 'description "../good-task/instructions.html" leaves the task folder' },
      { folder: 'linked-task', problem: 'the task folder leaves the tasks folder' },
      { folder: 'missing-image', problem: 'image "images/nope.png" does not exist' },
      { folder: 'same-name', problem: 'task name "good task" is taken by good-task' },
      { folder: 'symlinked-description', problem: 'description "index.html" leaves the task folder' },
    ])
  })

  test('problems never contain an absolute server path', async () => {
    const { broken } = await catalog
    for (const { problem } of broken) expect(problem).not.toContain(fixture.base)
  })

  test('a folder without task.json is not a task and not an error', async () => {
    const { tasks, broken } = await catalog
    expect([...tasks.map((t) => t.slug), ...broken.map((b) => b.folder)]).not.toContain('not-a-task')
  })

  test('a task gets its files, tests with prefixed titles and defaults, and inlined images', async () => {
    const [task] = (await catalog).tasks
    expect(task!.name).toBe('Good Task')
    expect(task!.files).toEqual([
      { id: 'index.html', name: 'index.html', type: 'file', content: '<p>starter page</p>\n', language: 'html' },
      {
        id: 'backend.py',
        name: 'backend.py',
        type: 'file',
        content: "@endpoint('/double')\ndef double(n):\n    return 0\n",
        language: 'python',
      },
      { id: 'README', name: 'README', type: 'file', content: 'notes for the learner\n', language: 'markdown' },
    ])
    expect(task!.tests.map((t) => [t.title, t.name, t.public])).toEqual([
      ['Backend: Doubling', 'doubles 2', true],
      ['Backend: Doubling', 'doubles 0', true],
      ['Backend: Doubling', 'doubles -3 (private)', false],
      ['Backend: More doubling', 'doubles 10 (private)', false],
      ['End-to-End: Page', 'shows the text', true],
      ['HTML: Look', 'looks fine', true],
      ['HTML: Look', 'looks great (private)', false],
    ])
    expect(task!.tests[0]).toEqual({
      title: 'Backend: Doubling',
      name: 'doubles 2',
      endpoint: '/double',
      input: { n: 2 },
      expected: 4,
      kind: 'endpoint',
      public: true,
    })
    expect(task!.tests[5]).toEqual({
      title: 'HTML: Look',
      name: 'looks fine',
      description: 'The page shows a paragraph.',
      kind: 'judge',
      public: true,
    })
  })

  test('a missing tasks folder is reported, not thrown', async () => {
    expect(await loadTasks(`${fixture.base}/no-such-folder`)).toEqual({
      tasks: [],
      broken: [],
      problem: 'the tasks folder does not exist or cannot be read',
    })
  })
})
