/**
 * Chat feature: WebSocket /ws/chat (streaming, many requests per connection) and POST /api/chat (whole answer).
 * README "Chat" has the frames; the connection logic lives in connection.ts, the turn in service.ts.
 */
import { Elysia } from 'elysia'
import type { Config } from '../config'
import { errorResponses } from '../errors'
import { requestFields, type Logger } from '../logging'
import type { Access } from '../access'
import type { ProviderRegistry } from '../providers/provider'
import type { Metrics } from '../metrics'
import { ChatConnection } from './connection'
import { ChatBody, ChatResponse } from './model'
import { answerChat } from './service'

export interface ChatDeps {
  config: Pick<Config, 'CHAT_HEARTBEAT_MS'>
  providers: ProviderRegistry
  logger: Logger
  /** Access keys: a socket without a valid key (header or `?token=`) is closed with 4401 as it opens. */
  access?: Pick<Access, 'admits'>
  /** Counts the open sockets (src/metrics). */
  metrics?: Pick<Metrics, 'socketOpened' | 'socketClosed'>
}

export const chat = (deps: ChatDeps) => {
  const logger = deps.logger.child({ feature: 'chat' })
  const connections = new Map<string, ChatConnection>()

  return new Elysia({ name: 'chat', tags: ['Chat'] })
    .ws('/ws/chat', {
      detail: {
        summary: 'Chat with the tutor, streaming',
        description:
          'Send ChatRequest frames (JSON text), optionally with an `id` echoed on every frame of its answer. Each ' +
          'answer is `code_ready` (autocomplete mode, when there is code), `chunk`s as the model writes, then one ' +
          '`complete` or `error`. `{"type":"cancel"}` ends the current answer with `complete` + `cancelled: true`. ' +
          'Bad frames get an `error` frame; the connection stays open.',
      },
      open(ws) {
        const raw = ws.raw
        // Browsers cannot read an HTTP status from a refused upgrade; a close code they can.
        if (deps.access && !deps.access.admits(ws.data.request)) return void raw.close(4401, 'unauthorized')
        const socket = {
          send: (text: string) => raw.send(text),
          ping: () => void raw.ping(),
          close: (code?: number, reason?: string) => raw.close(code, reason),
        }
        // Its lines come after the upgrade request has ended: they carry that request's id and client themselves.
        const log = logger.child({ connection: ws.id, ...requestFields(ws.data.request) })
        connections.set(ws.id, new ChatConnection(socket, { providers: deps.providers, logger: log, heartbeatMs: deps.config.CHAT_HEARTBEAT_MS }))
        deps.metrics?.socketOpened()
      },
      message(ws, message) {
        connections.get(ws.id)?.receive(message)
      },
      drain(ws) {
        connections.get(ws.id)?.drained()
      },
      close(ws) {
        connections.get(ws.id)?.close()
        // Only sockets that were admitted were counted.
        if (connections.delete(ws.id)) deps.metrics?.socketClosed()
      },
    })
    .post('/api/chat', ({ body, request }) => answerChat(deps.providers, body, request.signal), {
      body: ChatBody,
      response: { 200: ChatResponse, ...errorResponses(502, 503) },
      detail: {
        summary: 'Chat with the tutor, whole answer',
        description:
          'Same body as a /ws/chat frame; answers once the model has finished. 502 when the model API fails, 503 ' +
          'when no provider is configured for the model.',
      },
    })
}
