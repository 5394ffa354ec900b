/**
 * Tasks feature: TaskStore over the tasks folder and its routes (issue 5 fills these in).
 */
import { Elysia } from 'elysia'
import type { Config } from '../config'
import type { Logger } from '../logging'
import type { TaskStore } from './store'

export function createTaskStore(config: Config, _logger: Logger): TaskStore {
  return { health: () => ({ tasks: { ok: true, dir: config.TASKS_DIR } }), close() {} }
}

export const tasks = (_deps: { config: Config; tasks: TaskStore; logger: Logger }) =>
  new Elysia({ name: 'tasks', tags: ['Tasks'] })
