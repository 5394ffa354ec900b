/** A ProviderRegistry whose one provider answers from a script and records every ChatRequest it gets. */
import type { ChatProvider, ChatRequest, ProviderRegistry, StreamPart } from '../../src/providers/provider'

export type Scripted = { text: string } | { error: string; status?: number } | { throws: string }

export function scriptedRegistry(script: Scripted[]) {
  const requests: ChatRequest[] = []
  const provider: ChatProvider = {
    name: 'scripted',
    async *stream(request): AsyncIterable<StreamPart> {
      requests.push(structuredClone(request))
      const step = script[requests.length - 1] ?? { error: 'script exhausted', status: 500 }
      if ('throws' in step) throw new Error(step.throws)
      if ('error' in step) {
        yield { type: 'error', error: { message: step.error, status: step.status } }
        return
      }
      const half = Math.ceil(step.text.length / 2)
      yield { type: 'text-delta', text: step.text.slice(0, half) }
      yield { type: 'text-delta', text: step.text.slice(half) }
      yield { type: 'finish', reason: 'stop' }
    },
  }
  const registry: ProviderRegistry = {
    resolve: (model = 'default-model') => ({ provider, model }),
    health: () => ({ chat: { ok: true } }),
    close() {},
  }
  return { registry, requests }
}
