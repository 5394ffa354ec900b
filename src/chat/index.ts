/**
 * Chat feature: /ws/chat and /api/chat (issue 4).
 */
import { Elysia } from 'elysia'
import type { Config } from '../config'
import type { Logger } from '../logging'
import type { ProviderRegistry } from '../providers/provider'

export const chat = (_deps: { config: Config; providers: ProviderRegistry; logger: Logger }) =>
  new Elysia({ name: 'chat', tags: ['Chat'] })
