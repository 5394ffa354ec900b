/**
 * Deprecated Python servers (issue 5 fills these in).
 */
import { Elysia } from 'elysia'
import type { Config } from '../config'
import type { Logger } from '../logging'
import type { ServerManager } from './manager'

export function createServerManager(_config: Config, _logger: Logger): ServerManager {
  return { health: () => ({}), close() {} }
}

export const servers = (_deps: { config: Config; servers: ServerManager; logger: Logger }) =>
  new Elysia({ name: 'servers', tags: ['Python servers (deprecated)'] })
