/**
 * Per-client quotas beyond requests per minute: concurrent executions, concurrent chat sockets and AI tokens per
 * day, each from the settings unless the client's access key overrides it (`quotas` in API_KEYS_FILE, ./keys.ts).
 * The counters live in the limit store (./limit-store.ts), so with Redis they hold across replicas.
 *
 * Refusals are 429 `quota_exceeded` with Retry-After and the draft-07 RateLimit fields (./rate-limit.ts). A
 * concurrent place has no window: it frees when one of the client's runs ends, so the policy reads as one
 * second (`4;w=1`) and Retry-After is 1. A token budget lasts a UTC day: Retry-After is the time to midnight UTC.
 *
 * @example
 * const release = await quotas.hold(request, server, 'executions') // 429 when all places are taken
 * try { await run() } finally { release() }
 */
import type { Server } from 'elysia/universal'
import type { Identify } from '../http/client'
import type { Identity } from './keys'
import { quotaExceeded, type RouteClass } from './rate-limit'
import type { LimitStore, Release } from './store'
import { createTokenBudget, type TokenBudget, type TokenMeter } from './token-budget'

export interface ClientLimits {
  /** Requests per minute by route class; 0: none. */
  perMinute: Record<RouteClass, number>
  concurrentExecutions: number
  concurrentSockets: number
  aiTokensPerDay: number
}

export type Concurrent = 'executions' | 'sockets'

export interface Quotas {
  /** Who is calling and under which limits (the key's overrides over the settings). */
  of(request: Request, server: Server | null): { client: string; limits: ClientLimits }
  /** Takes one of the client's concurrent places; throws 429 quota_exceeded when all are taken. */
  hold(request: Request, server: Server | null, kind: Concurrent): Promise<Release>
  /** The client's AI token budget of the day. */
  budget(request: Request, server: Server | null): TokenBudget
  /** The per-request cap on `max_tokens` (AI_MAX_TOKENS). */
  maxTokens: number
}

/** The settings this module reads (src/config.ts documents each). */
export interface QuotaSettings {
  RATE_EXECUTION_PER_MIN: number
  RATE_CHAT_PER_MIN: number
  RATE_JUDGE_PER_MIN: number
  RATE_SERVERS_PER_MIN: number
  CONCURRENT_EXECUTIONS_PER_CLIENT: number
  CONCURRENT_SOCKETS_PER_CLIENT: number
  AI_TOKENS_PER_DAY: number
  AI_MAX_TOKENS: number
}

export function defaultLimits(config: QuotaSettings): ClientLimits {
  return {
    perMinute: {
      execution: config.RATE_EXECUTION_PER_MIN,
      chat: config.RATE_CHAT_PER_MIN,
      judge: config.RATE_JUDGE_PER_MIN,
      servers: config.RATE_SERVERS_PER_MIN,
    },
    concurrentExecutions: config.CONCURRENT_EXECUTIONS_PER_CLIENT,
    concurrentSockets: config.CONCURRENT_SOCKETS_PER_CLIENT,
    aiTokensPerDay: config.AI_TOKENS_PER_DAY,
  }
}

/** The limits of a key: each field of its `quotas` replaces the setting. */
export function limitsOf(defaults: ClientLimits, identity: Identity | undefined): ClientLimits {
  const own = identity?.quotas
  if (!own) return defaults
  return {
    perMinute: {
      execution: own.executionPerMin ?? defaults.perMinute.execution,
      chat: own.chatPerMin ?? defaults.perMinute.chat,
      judge: own.judgePerMin ?? defaults.perMinute.judge,
      servers: own.serversPerMin ?? defaults.perMinute.servers,
    },
    concurrentExecutions: own.concurrentExecutions ?? defaults.concurrentExecutions,
    concurrentSockets: own.concurrentSockets ?? defaults.concurrentSockets,
    aiTokensPerDay: own.aiTokensPerDay ?? defaults.aiTokensPerDay,
  }
}

const CONCURRENT_WORDS: Record<Concurrent, string> = { executions: 'runs of code', sockets: 'chat connections' }

export interface QuotaDeps {
  config: QuotaSettings
  store: LimitStore
  identify: Identify
  identity: (request: Request) => Identity | undefined
  meter?: TokenMeter
}

export function createQuotas({ config, store, identify, identity, meter }: QuotaDeps): Quotas {
  const defaults = defaultLimits(config)
  // Worked out once per request: the WebSocket's open handler has the upgrade request but no server to ask
  // for the peer address, and the rate-limit hook has already asked for that very request.
  const known = new WeakMap<Request, { client: string; limits: ClientLimits }>()
  const of = (request: Request, server: Server | null) => {
    let found = known.get(request)
    if (!found) {
      found = { client: identify(request, server), limits: limitsOf(defaults, identity(request)) }
      known.set(request, found)
    }
    return found
  }
  return {
    of,
    async hold(request, server, kind) {
      const { client, limits } = of(request, server)
      const limit = kind === 'executions' ? limits.concurrentExecutions : limits.concurrentSockets
      if (limit <= 0) return () => {}
      const release = await store.acquire(`concurrent:${kind}:${client}`, limit)
      if (release) return release
      throw quotaExceeded(
        `concurrent_${kind}`,
        `Too many ${CONCURRENT_WORDS[kind]} at once: at most ${limit} per client; wait for one to end`,
        limit,
        1,
        1000,
      )
    },
    budget(request, server) {
      const { client, limits } = of(request, server)
      return createTokenBudget({ store, client, limit: limits.aiTokensPerDay, meter })
    },
    maxTokens: config.AI_MAX_TOKENS,
  }
}
