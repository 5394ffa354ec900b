/**
 * completeChat: the non-streaming helper on top of any ChatProvider. Collects the text, the usage and the
 * finish reason; an `error` part (or an adapter that throws) becomes a ProviderError carrying the failure.
 *
 * @example
 * const { text, usage } = await completeChat(provider, { model, messages }, request.signal)
 */
import type { ChatProvider, ChatRequest, ProviderFailure, Usage } from './provider'
import { describeFailure } from './failure'

export interface Completion {
  text: string
  /** `stop`, `length`, ...; `aborted` when `signal` fired first. */
  finishReason: string
  usage?: Usage
}

/** A failed model call; `failure.message` is readable and never contains a key. */
export class ProviderError extends Error {
  constructor(readonly failure: ProviderFailure) {
    super(failure.message)
    this.name = 'ProviderError'
  }

  /** The upstream HTTP status when there was one (429, 500, ...). */
  get status(): number | undefined {
    return this.failure.status
  }
}

export async function completeChat(
  provider: ChatProvider,
  request: ChatRequest,
  signal?: AbortSignal,
): Promise<Completion> {
  let text = ''
  let finish: Omit<Completion, 'text'> | undefined
  try {
    for await (const part of provider.stream(request, signal)) {
      if (part.type === 'text-delta') text += part.text
      else if (part.type === 'finish')
        finish = { finishReason: part.reason, ...(part.usage ? { usage: part.usage } : {}) }
      else throw new ProviderError(part.error)
    }
  } catch (error) {
    if (error instanceof ProviderError) throw error
    throw new ProviderError(describeFailure(error))
  }
  if (finish) return { text, ...finish }
  if (signal?.aborted) return { text, finishReason: 'aborted' }
  return { text, finishReason: 'unknown' }
}
