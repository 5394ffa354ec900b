/**
 * Chat feature: WebSocket /ws/chat (streaming, many requests per connection) and POST /api/chat (whole answer).
 * docs/api.md, "Chat" has the frames; the connection logic lives in connection.ts, the turn in service.ts.
 */
import { Elysia } from 'elysia'
import type { Server } from 'elysia/universal'
import { AppError, errorResponses } from '../errors'
import { requestFields, type Logger } from '../logging'
import type { Access } from '../access'
import type { Quotas } from '../access/quotas'
import type { Release } from '../access/store'
import type { ProviderRegistry } from '../providers/provider'
import type { Metrics } from '../metrics'
import { tooDeep } from '../http/body'
import { withinDepth } from '../http/json-depth'
import { ChatConnection, errorFrame } from './connection'
import { ChatBody, ChatResponse } from './model'
import { answerChat, type TurnLimits } from './service'
import type { Store } from '../store/port'
import type { TaskStore } from '../tasks/store'
import { createTutor } from '../tutor/service'
import { OPEN_LEARNER, viewerOf } from '../learners/service'

/** The settings this module reads (src/config.ts documents each). */
export interface ChatSettings {
  CHAT_HEARTBEAT_MS: number
  MAX_BODY_DEPTH: number
  TUTOR_CONTEXT_CHARS: number
  TUTOR_MAX_CODE_LINES: number
}

export interface ChatDeps {
  config: ChatSettings
  providers: ProviderRegistry
  logger: Logger
  /**
   * Access keys: a socket without a valid key (header or `?token=`) is closed with 4401 as it opens. The
   * identity is the learner whose conversations a request reads and adds to (`local` on an open server).
   */
  access?: Pick<Access, 'admits' | 'identity' | 'mode'>
  /** With both, requests naming a `task` are answered by the tutor (src/tutor), and conversations are kept. */
  tasks?: Pick<TaskStore, 'find'>
  store?: Pick<Store, 'lastAttempt' | 'getConversation' | 'createConversation' | 'appendMessages'>
  /** Counts the open sockets (src/metrics). */
  metrics?: Pick<Metrics, 'socketOpened' | 'socketClosed'>
  /**
   * Per-client quotas (src/access/quotas.ts): open sockets (a socket beyond them gets an `error` frame
   * quota_exceeded and is closed with 4429), the max_tokens cap and the token budget of every turn.
   */
  quotas?: Pick<Quotas, 'hold' | 'budget' | 'maxTokens'>
}

/** Close code of a socket beyond the client's CONCURRENT_SOCKETS_PER_CLIENT: 4000 + HTTP 429, like 4401. */
export const CLOSE_QUOTA = 4429

type FrameHandler = (ws: unknown, message: unknown) => unknown

/**
 * Elysia JSON-parses a text frame before any hook of ours sees it, and a frame nested a million deep costs that
 * parse plus every later walk through it. Bun hands each frame to `data.message` of the raw socket, where Elysia
 * keeps its handler: wrapping that handler checks the depth on the raw text first (as the body parser does for
 * HTTP bodies), and a frame too deep is refused without ever being parsed.
 */
function boundFrameDepth(raw: { data: unknown }, maxDepth: number, refuse: () => void): void {
  const data = raw.data as { message?: FrameHandler }
  const handle = data.message
  if (typeof handle !== 'function') return
  data.message = (ws, message) =>
    typeof message === 'string' && !withinDepth(Buffer.from(message), maxDepth) ? refuse() : handle(ws, message)
}

interface SocketState {
  connection?: ChatConnection
  release?: Release
  closed: boolean
  /** Settles once the socket has its place (or was refused): frames that came earlier wait for it. */
  admitted: Promise<void>
}

export const chat = (deps: ChatDeps) => {
  const logger = deps.logger.child({ feature: 'chat' })
  const sockets = new Map<string, SocketState>()
  const { quotas } = deps
  const limitsOf = (request: Request, server: Server | null): TurnLimits =>
    quotas ? { maxTokens: quotas.maxTokens, budget: quotas.budget(request, server) } : {}
  const tutor =
    deps.tasks && deps.store
      ? createTutor({
          tasks: deps.tasks,
          store: deps.store,
          config: deps.config,
          logger: logger.child({ feature: 'tutor' }),
        })
      : undefined
  const learnerOf = (request: Request) => (deps.access ? viewerOf(deps.access, request).learner : OPEN_LEARNER)

  return new Elysia({ name: 'chat', tags: ['Chat'] })
    .ws('/ws/chat', {
      detail: {
        summary: 'Chat with the tutor, streaming',
        description:
          'Send ChatRequest frames (JSON text), optionally with an `id` echoed on every frame of its answer. Each ' +
          'answer is `code_ready` (autocomplete mode, when there is code), `chunk`s as the model writes, then one ' +
          '`complete` or `error`. `{"type":"cancel"}` ends the current answer with `complete` + `cancelled: true`. ' +
          "Bad frames get an `error` frame; the connection stays open. Beyond the client's open sockets " +
          '(CONCURRENT_SOCKETS_PER_CLIENT) a new socket gets an `error` frame `quota_exceeded` and is closed with ' +
          '4429; over the token budget of the day (AI_TOKENS_PER_DAY) each request is answered with an `error` frame ' +
          '`quota_exceeded`.',
      },
      open(ws) {
        const raw = ws.raw
        const request = ws.data.request
        // Browsers cannot read an HTTP status from a refused upgrade; a close code they can.
        if (deps.access && !deps.access.admits(request)) return void raw.close(4401, 'unauthorized')
        const refuse = (error: AppError) => raw.send(JSON.stringify(errorFrame(error.message, error.code)))
        const maxDepth = deps.config.MAX_BODY_DEPTH
        boundFrameDepth(raw, maxDepth, () => refuse(tooDeep(maxDepth)))
        const socket = {
          send: (text: string) => raw.send(text),
          ping: () => void raw.ping(),
          close: (code?: number, reason?: string) => raw.close(code, reason),
        }
        const state: SocketState = { closed: false, admitted: Promise.resolve() }
        sockets.set(ws.id, state)
        const admit = async () => {
          let release: Release
          try {
            // The upgrade request went through the rate-limit hook, which worked out its client (the socket has no server).
            release = quotas ? await quotas.hold(request, null, 'sockets') : () => {}
          } catch (error) {
            if (!(error instanceof AppError)) throw error
            refuse(error)
            return void raw.close(CLOSE_QUOTA, error.code)
          }
          if (state.closed) return release() // the client left while its place was being taken
          state.release = release
          // Its lines come after the upgrade request has ended: they carry that request's id and client themselves.
          const log = logger.child({ connection: ws.id, ...requestFields(request) })
          const options = { providers: deps.providers, logger: log, heartbeatMs: deps.config.CHAT_HEARTBEAT_MS }
          state.connection = new ChatConnection(socket, {
            ...options,
            limits: limitsOf(request, null),
            ...(tutor ? { tutor } : {}),
            learner: learnerOf(request),
          })
          deps.metrics?.socketOpened()
        }
        state.admitted = admit().catch((error) => {
          logger.error('chat socket admission failed', { error: (error as Error)?.message })
          raw.close(1011, 'internal error')
        })
      },
      message(ws, message) {
        const state = sockets.get(ws.id)
        if (state?.connection) return state.connection.receive(message)
        // Still being admitted: in order, once it is (promise callbacks run in the order they were added).
        void state?.admitted.then(() => state.connection?.receive(message))
      },
      drain(ws) {
        sockets.get(ws.id)?.connection?.drained()
      },
      close(ws) {
        const state = sockets.get(ws.id)
        if (!state) return
        sockets.delete(ws.id)
        state.closed = true
        state.release?.()
        // Only sockets that were admitted were counted.
        if (state.connection) {
          state.connection.close()
          deps.metrics?.socketClosed()
        }
      },
    })
    .post(
      '/api/chat',
      ({ body, request, server }) =>
        answerChat(deps.providers, body, request.signal, limitsOf(request, server), {
          ...(tutor ? { tutor } : {}),
          learner: learnerOf(request),
          logger,
        }),
      {
        body: ChatBody,
        response: { 200: ChatResponse, ...errorResponses(404, 422, 429, 502, 503) },
        detail: {
          summary: 'Chat with the tutor, whole answer',
          description:
            'Same body as a /ws/chat frame; answers once the model has finished. 502 when the model API fails, 503 ' +
            'when no provider is configured for the model, 429 quota_exceeded when the token budget of the day is spent.',
        },
      },
    )
}
