/**
 * Model calls as the metrics see them: a wrapper around the ProviderRegistry that app.ts gives each feature
 * (chat, judge) separately, so the figures say which feature was streaming or failing without either feature
 * knowing about metrics. A stream counts as active from its first read until it ends, fails or is abandoned.
 */
import { CUT_OFF, FAILURE_MESSAGES } from '../providers/failure'
import type { ChatProvider, ProviderFailure, ProviderRegistry, StreamPart } from '../providers/provider'
import type { Feature, Metrics } from '.'

/** A failure's kind, one of UPSTREAM_KINDS: from its HTTP status, else from the sentence the adapters use. */
export function upstreamKind(failure: ProviderFailure): string {
  const { status, message } = failure
  if (status === 429) return 'rate_limited'
  if (status === 401 || status === 403) return 'auth'
  if (status !== undefined) return status >= 500 ? 'server_error' : 'rejected'
  if (message === CUT_OFF.message) return 'cut_off'
  if (message === FAILURE_MESSAGES.timeout) return 'timeout'
  if (message === FAILURE_MESSAGES.connection) return 'connection'
  return 'other'
}

type StreamMetrics = Pick<Metrics, 'modelStreamOpened' | 'modelStreamClosed' | 'upstreamError'>

function measuredProvider(provider: ChatProvider, metrics: StreamMetrics, feature: Feature): ChatProvider {
  return {
    name: provider.name,
    async *stream(request, signal): AsyncIterable<StreamPart> {
      metrics.modelStreamOpened(feature)
      try {
        for await (const part of provider.stream(request, signal)) {
          if (part.type === 'error') metrics.upstreamError(feature, provider.name, upstreamKind(part.error))
          yield part
        }
      } catch (error) {
        // An abort is the client leaving, not the upstream failing.
        if (!signal?.aborted) {
          const failure = (error as { failure?: ProviderFailure }).failure
          metrics.upstreamError(feature, provider.name, failure ? upstreamKind(failure) : 'other')
        }
        throw error
      } finally {
        metrics.modelStreamClosed(feature)
      }
    },
  }
}

export function measuredProviders(
  registry: ProviderRegistry,
  metrics: StreamMetrics,
  feature: Feature,
): ProviderRegistry {
  const wrapped = new WeakMap<ChatProvider, ChatProvider>()
  return {
    resolve(model) {
      const { provider, model: resolved } = registry.resolve(model)
      let measured = wrapped.get(provider)
      if (!measured) wrapped.set(provider, (measured = measuredProvider(provider, metrics, feature)))
      return { provider: measured, model: resolved }
    },
    health: () => registry.health(),
    close: () => registry.close(),
  }
}
