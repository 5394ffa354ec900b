/**
 * AI tokens per client and UTC day, counted from the providers' usage figures (prompt plus completion tokens)
 * after each model call of chat and the judge. A call is checked before it starts and charged once it ends, so a
 * client may end a day above its budget by what its calls in flight used (each capped by AI_MAX_TOKENS); the
 * next call is refused.
 *
 * A call that reports no usage (cancelled half-way, or a compatible server that sends none) is charged an
 * estimate of four characters a token for what was sent and received: cancelling every answer just before its
 * end must not make the tutor free.
 *
 * @example
 * const budget = quotas.budget(request, server)
 * await budget.check() // 429 quota_exceeded when the day's tokens are spent
 * await budget.charge('gpt-4o-mini', { promptTokens: 120, completionTokens: 80 })
 */
import type { ChatMessage, Usage } from '../providers/provider'
import { quotaExceeded } from './rate-limit'
import type { LimitStore } from './store'

export interface TokenBudget {
  /** Throws 429 quota_exceeded when the day's budget is spent. */
  check(): Promise<void>
  /** Counts one call's tokens against the budget (and in the metrics). */
  charge(model: string, usage: Usage): Promise<void>
}

/** Hears of every charged call: the `tutor_ai_tokens_total` counter (src/metrics). */
export type TokenMeter = (model: string, client: string, usage: Usage) => void

const DAY_MS = 86_400_000
// A day's counter outlives its day a little, so replicas whose clocks differ by minutes still read the same one.
const SLACK_MS = 3_600_000

const msToMidnight = (now: number) => DAY_MS - (now % DAY_MS)
const dayOf = (now: number) => new Date(now).toISOString().slice(0, 10)

export function createTokenBudget({
  store,
  client,
  limit,
  meter,
  now = Date.now,
}: {
  store: LimitStore
  client: string
  /** Tokens a day; 0: no budget. */
  limit: number
  meter?: TokenMeter
  now?: () => number
}): TokenBudget {
  const key = () => `tokens:${dayOf(now())}:${client}`
  return {
    async check() {
      if (limit <= 0) return
      const used = await store.read(key())
      if (used < limit) return
      const resetS = Math.max(1, Math.ceil(msToMidnight(now()) / 1000))
      throw quotaExceeded(
        'ai_tokens_per_day',
        `The AI budget of today is spent (${used} of ${limit} tokens); it renews at 00:00 UTC, in ${resetS} s`,
        limit,
        resetS,
        DAY_MS,
      )
    },
    async charge(model, usage) {
      const tokens = usage.promptTokens + usage.completionTokens
      meter?.(model, client, usage)
      if (limit <= 0 || tokens <= 0) return
      await store.add(key(), tokens, msToMidnight(now()) + SLACK_MS)
    },
  }
}

const CHARS_PER_TOKEN = 4

const charsOf = (messages: ChatMessage[]) =>
  messages.reduce(
    (sum, { content }) =>
      sum +
      (typeof content === 'string'
        ? content.length
        : content.reduce((n, part) => n + (part.type === 'text' ? part.text.length : 0), 0)),
    0,
  )

/** The usage of a call the provider gave no figures for (see the top of this file). */
export function estimateUsage(messages: ChatMessage[], outputChars: number): Usage {
  return {
    promptTokens: Math.ceil(charsOf(messages) / CHARS_PER_TOKEN),
    completionTokens: Math.ceil(outputChars / CHARS_PER_TOKEN),
  }
}
