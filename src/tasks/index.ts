/**
 * Tasks feature: the TaskStore over the tasks folder and its routes: GET /tasks, GET /tasks/{task_name},
 * POST /api/load-test-cases and GET /assets/{path}.
 */
import { Elysia, t } from 'elysia'
import { AppError, errorResponses } from '../errors'
import type { Logger } from '../logging'
import { createFsTaskStore } from './fs-store'
import { LoadTestCasesRequest, LoadTestCasesResponse, TaskDetail, TaskList } from './model'
import { resolveTasksDir } from './paths'
import { loadTestCases, taskDetail } from './service'
import type { TaskStore } from './store'

/** The settings this module reads (src/config.ts documents each). */
export interface TaskSettings {
  TASKS_DIR: string
  TASKS_WATCH: boolean
}

/** The store the app uses: the folder named by TASKS_DIR, watched when TASKS_WATCH is on. */
export function createTaskStore(config: TaskSettings, logger: Logger): TaskStore {
  return createFsTaskStore({
    dir: resolveTasksDir(config.TASKS_DIR),
    shownDir: config.TASKS_DIR,
    watch: config.TASKS_WATCH,
    logger,
  })
}

// Same answer for a missing file, a forbidden one and one outside the folder: nothing to probe with.
const assetNotFound = () => new AppError('not_found', 404, 'No such asset')

/** The part of the raw URL path after `/assets/`, percent-decoded per segment (undefined if malformed). */
function assetPath(url: string): string | undefined {
  const raw = new URL(url).pathname.slice('/assets/'.length)
  try {
    return raw.split('/').map(decodeURIComponent).join('/')
  } catch {
    return undefined
  }
}

export const tasks = ({ tasks: store }: { config: TaskSettings; tasks: TaskStore; logger: Logger }) =>
  new Elysia({ name: 'tasks', tags: ['Tasks'] })
    .get('/tasks', async () => ({ tasks: await store.list() }), {
      response: { 200: TaskList, ...errorResponses() },
      detail: { summary: 'List tasks', description: 'Name, slug and summary of every task that loaded.' },
    })
    .get(
      '/tasks/:task_name',
      async ({ params }) => {
        const task = await store.find(params.task_name)
        if (!task) throw new AppError('task_not_found', 404, `No task named "${params.task_name}"`)
        return taskDetail(task)
      },
      {
        params: t.Object({ task_name: t.String({ description: 'Display name (URL-encoded) or slug.' }) }),
        response: { 200: TaskDetail, ...errorResponses(404) },
        detail: {
          summary: 'Get a task',
          description:
            'Instructions HTML (images inlined as data: URLs), every test with titles prefixed by kind ' +
            '(Backend:, End-to-End:, HTML:) and the starter files. Reference solutions are never included.',
        },
      },
    )
    .post('/api/load-test-cases', async ({ body }) => ({ testCases: await loadTestCases(store, body) }), {
      body: LoadTestCasesRequest,
      response: { 200: LoadTestCasesResponse, ...errorResponses(400) },
      detail: {
        summary: 'Load test cases',
        description:
          'Test folders (relative to the tasks folder, e.g. `tic-tac-toe/tests/backend`) and inline tests, ' +
          'grouped by title in first-seen order. `public_only` (default true) leaves out private tests. ' +
          'A path outside the tasks folder is a 400.',
      },
    })
    .get(
      '/assets/*',
      async ({ request }) => {
        const path = assetPath(request.url)
        const asset = path === undefined ? undefined : await store.asset(path)
        if (!asset) throw assetNotFound()
        return new Response(Bun.file(asset.path), {
          headers: {
            'content-type': asset.contentType,
            'x-content-type-options': 'nosniff',
            'cache-control': 'no-cache',
          },
        })
      },
      {
        response: { 200: t.Any({ description: 'The file, with its content type.' }), ...errorResponses(404) },
        detail: {
          summary: 'Get a task asset',
          description:
            'Images, styles, scripts, HTML, fonts and media under the tasks folder. JSON files (task.json, ' +
            'tests) and Python files (reference solutions) are never served; anything else is a 404.',
        },
      },
    )
