/**
 * TaskStore on the file system. Loading starts at once in the background (start-up does not wait for it) and
 * every call awaits the current load, so the folder is read once, not per request. With `watch` the folder is
 * read again shortly after any change; requests keep being served from the previous catalog meanwhile.
 */
import { watch as watchFolder, type FSWatcher } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { AppError } from '../errors'
import { pending, warmingUp } from '../services'
import type { Logger } from '../logging'
import { assetType } from './assets'
import { loadTasks, shownPath, type TaskCatalog } from './loader'
import { resolveInside, safeSegments } from './paths'
import type { Test } from './model'
import type { TaskStore } from './store'

export interface FsTaskStoreOptions {
  /** Absolute path of the tasks folder (see resolveTasksDir). */
  dir: string
  watch: boolean
  logger: Logger
  /** How /health shows the folder (the configured value, not the resolved absolute path). */
  shownDir?: string
  /** Quiet period after a change before reloading. */
  debounceMs?: number
}

async function realRoot(dir: string): Promise<string | undefined> {
  try {
    return await realpath(dir)
  } catch {
    return undefined
  }
}

export function createFsTaskStore({
  dir,
  watch,
  logger,
  shownDir = dir,
  debounceMs = 100,
}: FsTaskStoreOptions): TaskStore {
  const rootPromise = realRoot(dir)
  let generation = 0
  let current: Promise<TaskCatalog> = load(generation)
  let watcher: FSWatcher | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  let closed = false

  /** Reads the folder; logs once the result is what callers get (a newer load started meanwhile wins). */
  async function load(mine: number): Promise<TaskCatalog> {
    const root = await rootPromise
    const catalog: TaskCatalog = root
      ? await loadTasks(root)
      : { tasks: [], broken: [], problem: 'the tasks folder does not exist' }
    if (mine !== generation) return catalog
    current = Promise.resolve(catalog)
    for (const broken of catalog.broken) logger.warn('task skipped', { task: broken.folder, problem: broken.problem })
    if (catalog.problem) logger.warn('tasks folder unusable', { dir, problem: catalog.problem })
    logger.info('tasks loaded', { loaded: catalog.tasks.length, broken: catalog.broken.length })
    return catalog
  }

  async function reload(): Promise<void> {
    await load(++generation)
  }

  if (watch) {
    void rootPromise.then((root) => {
      if (!root || closed) return
      try {
        watcher = watchFolder(root, { recursive: true }, () => {
          clearTimeout(timer)
          timer = setTimeout(() => void reload(), debounceMs)
        })
        watcher.on('error', (error) => logger.warn('tasks watcher failed', { error: error.message }))
        logger.debug('watching tasks folder', { dir: shownDir })
      } catch (error) {
        logger.warn('cannot watch the tasks folder', { error: (error as Error).message })
      }
    })
  }

  async function testFolder(path: string): Promise<Test[]> {
    const root = await rootPromise
    const catalog = await current
    if (!root) throw new AppError('tasks_unavailable', 503, 'The tasks folder is not available')
    let resolved = await resolveInside(root, path)
    // Clients of the original send paths from the repository root ("tasks/<slug>/tests/backend").
    const segments = safeSegments(path)
    if (
      !resolved.ok &&
      resolved.reason === 'missing' &&
      segments &&
      segments[0] === basename(root) &&
      segments.length > 1
    ) {
      resolved = await resolveInside(root, segments.slice(1).join('/'))
    }
    if (!resolved.ok && resolved.reason === 'outside') {
      // The path is not echoed: it may be an absolute server path, and messages never carry those.
      throw new AppError(
        'path_outside_tasks',
        400,
        'A test folder path leaves the tasks folder; give it relative to the tasks folder',
      )
    }
    const tests = resolved.ok ? catalog.tasks.map((t) => t.testFolders.get(resolved.path)).find(Boolean) : undefined
    if (!tests) throw new AppError('test_folder_not_found', 400, `"${path}" is not a test folder of any loaded task`)
    return tests
  }

  return {
    async list() {
      const { tasks } = await current
      return tasks.map(({ name, slug, summary }) => ({ name, slug, summary }))
    },
    async find(nameOrSlug) {
      const { tasks } = await current
      const lower = nameOrSlug.toLowerCase()
      return tasks.find((t) => t.slug === nameOrSlug) ?? tasks.find((t) => t.name.toLowerCase() === lower)
    },
    testFolder,
    async asset(path) {
      const root = await rootPromise
      if (!root || !assetType(path)) return undefined
      const resolved = await resolveInside(root, path)
      if (!resolved.ok) return undefined
      // A symlink named like an image could point at a solution: the real file must be servable too.
      const contentType = assetType(shownPath(root, resolved.path))
      if (!contentType) return undefined
      const info = await stat(resolved.path).catch(() => undefined)
      return info?.isFile() ? { path: resolved.path, contentType } : undefined
    },
    reload,
    warmUp: () => current.then(() => {}),
    async health() {
      if (pending(current)) return warmingUp('tasks')
      const catalog = await current
      const broken = Object.fromEntries(catalog.broken.map((b) => [b.folder, b.problem]))
      return {
        tasks: {
          ok: !catalog.problem && catalog.broken.length === 0,
          dir: shownDir,
          loaded: catalog.tasks.length,
          names: catalog.tasks.map((t) => t.name),
          ...(catalog.broken.length ? { broken } : {}),
          ...(catalog.problem ? { problem: catalog.problem } : {}),
          watching: watcher !== undefined,
        },
      }
    },
    close() {
      closed = true
      clearTimeout(timer)
      watcher?.close()
      watcher = undefined
    },
  }
}
