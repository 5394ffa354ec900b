/**
 * The TaskStore port over the tasks folder. Routes ask it for tasks, test folders and assets; it never hands
 * out anything outside the folder. The file-system adapter is `fs-store.ts`.
 */
import type { Service } from '../services'
import type { LoadedTask } from './loader'
import type { TaskSummary, Test } from './model'

export interface Asset {
  /** Real path of the file, checked to be inside the tasks folder. */
  path: string
  contentType: string
}

export interface TaskStore extends Service {
  /** Loaded tasks in folder order. */
  list(): Promise<TaskSummary[]>
  /** A task by display name (case-insensitive) or slug. */
  find(nameOrSlug: string): Promise<LoadedTask | undefined>
  /**
   * The tests of a test folder given relative to the tasks folder (e.g. `tic-tac-toe/tests/backend`).
   * Throws AppError 400 for a path that leaves the folder or is not a test folder of a loaded task.
   */
  testFolder(path: string): Promise<Test[]>
  /** A servable file by its path relative to the tasks folder; undefined for anything else. */
  asset(path: string): Promise<Asset | undefined>
  /** Reads the folder again (the watcher calls this on changes). */
  reload(): Promise<void>
}
