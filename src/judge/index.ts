/**
 * LLM judge: POST /api/llm-judge (issue 5).
 */
import { Elysia } from 'elysia'
import type { Config } from '../config'
import type { Logger } from '../logging'
import type { ProviderRegistry } from '../providers/provider'

export const judge = (_deps: { config: Config; providers: ProviderRegistry; logger: Logger }) =>
  new Elysia({ name: 'judge', tags: ['LLM judge'] })
