/**
 * One /ws/chat connection: its own queue of requests (served one at a time, in order), the AbortController of
 * the request being served, backpressure and heartbeat. Nothing here is shared between connections, so one
 * user can never receive another's answer. Knows nothing about Elysia: it talks to a FrameSocket.
 */
import { Value } from '@sinclair/typebox/value'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import type { ProviderRegistry } from '../providers/provider'
import { ProviderError } from '../providers/complete'
import { ChatBody, FrameId, type ServerFrame } from './model'
import { prepareTurn, prepareTutoring, runTurn, saveTutoredTurn, toWireUsage, type TurnLimits } from './service'
import type { Tutor } from '../tutor/service'

export interface FrameSocket {
  /** Bun's semantics: bytes sent (> 0), -1 queued under backpressure (wait for drain), 0 dropped. */
  send(text: string): number
  ping(): void
  close(code?: number, reason?: string): void
}

export interface ConnectionOptions {
  providers: ProviderRegistry
  logger: Logger
  heartbeatMs: number
  /** The max_tokens cap and the client's token budget: over it, a turn is an `error` frame quota_exceeded. */
  limits?: TurnLimits
  /** Answers requests about a task and keeps conversations (src/tutor). */
  tutor?: Tutor
  /** Whose conversations these are: the access identity of the socket, `local` on an open server. */
  learner?: string
}

type Id = typeof FrameId.static

interface Pending {
  id?: Id
  body: ChatBody
  controller: AbortController
}

/** Requests a client may queue behind the one being answered. */
export const MAX_QUEUED = 8

export const errorFrame = (content: string, errorType: string, id?: Id): ServerFrame => ({
  type: 'error',
  content,
  error_type: errorType,
  ...(id === undefined ? {} : { id }),
})

/** The first schema problem of a frame, as a sentence. */
function describeProblem(frame: unknown): string {
  const first = Value.Errors(ChatBody, frame).First()
  if (!first) return 'Invalid chat request'
  return `Invalid chat request: ${first.path || '/'} ${first.message.toLowerCase()}`
}

export class ChatConnection {
  private readonly queue: Pending[] = []
  private current: Pending | undefined
  private drain: PromiseWithResolvers<void> | undefined
  private closed = false
  private readonly heartbeat: ReturnType<typeof setInterval>

  constructor(
    private readonly socket: FrameSocket,
    private readonly options: ConnectionOptions,
  ) {
    // Idle proxies (nginx, cloud load balancers) cut quiet sockets after 60 s or so; a ping keeps it warm.
    this.heartbeat = setInterval(() => this.socket.ping(), options.heartbeatMs)
    this.heartbeat.unref?.()
  }

  /** One client frame, already JSON-parsed by Elysia when it looked like JSON. */
  receive(message: unknown): void {
    if (this.closed) return
    let frame = message
    if (typeof frame === 'string') {
      try {
        frame = JSON.parse(frame)
      } catch {
        return void this.send(errorFrame('Frames must be JSON text', 'bad_frame'))
      }
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame) || ArrayBuffer.isView(frame)) {
      return void this.send(errorFrame('A frame must be a JSON object', 'bad_frame'))
    }
    const record = frame as Record<string, unknown>
    const id = Value.Check(FrameId, record.id) ? (record.id as Id) : undefined
    if (record.type === 'cancel') {
      this.cancel(id)
      return
    }
    if (record.type !== undefined) {
      return void this.send(
        errorFrame(
          `Unknown frame type ${JSON.stringify(record.type)}; send a chat request or {"type":"cancel"}`,
          'bad_frame',
          id,
        ),
      )
    }
    if (!Value.Check(ChatBody, frame)) return void this.send(errorFrame(describeProblem(frame), 'bad_frame', id))
    if (this.queue.length >= MAX_QUEUED) {
      return void this.send(
        errorFrame(
          `Too many requests waiting on this connection (${MAX_QUEUED}); wait for a complete frame`,
          'busy',
          id,
        ),
      )
    }
    this.queue.push({ id, body: frame, controller: new AbortController() })
    if (!this.current) void this.serveQueue()
  }

  /** Bun drained the socket's send buffer: sending may go on. */
  drained(): void {
    const drain = this.drain
    this.drain = undefined
    drain?.resolve()
  }

  /** The socket closed: abort the model request being served and drop the queue. */
  close(): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.heartbeat)
    this.current?.controller.abort()
    for (const pending of this.queue.splice(0)) pending.controller.abort()
    this.drained()
  }

  private cancel(id: Id | undefined): void {
    if (this.current && (id === undefined || id === this.current.id)) {
      this.current.controller.abort()
      return
    }
    const index = id === undefined ? -1 : this.queue.findIndex((p) => p.id === id)
    if (index < 0) return // already finished: nothing to cancel
    const [pending] = this.queue.splice(index, 1)
    void this.send({ type: 'complete', content: '', generated_code: '', cancelled: true, id: pending!.id! })
  }

  private async serveQueue(): Promise<void> {
    while (!this.closed && (this.current = this.queue.shift())) {
      await this.serve(this.current)
    }
    this.current = undefined
  }

  private async serve({ id, body, controller }: Pending): Promise<void> {
    const withId = id === undefined ? {} : { id }
    const started = performance.now()
    let frames = 0
    let outcome = 'complete'
    let model = body.model
    let hintLevel: number | undefined
    try {
      const { budget, maxTokens } = this.options.limits ?? {}
      const { tutor, learner = 'local', logger } = this.options
      const tutored = await prepareTutoring({ ...(tutor ? { tutor } : {}), learner, logger }, body)
      hintLevel = tutored?.level
      const turn = prepareTurn(this.options.providers, body, maxTokens, tutored)
      model = turn.request.model
      await budget?.check()
      const result = await runTurn(turn, controller.signal, (frame) => {
        frames++
        return this.send({ ...frame, ...withId })
      })
      await budget?.charge(result.model, result.spent)
      if (result.cancelled) outcome = this.closed ? 'disconnected' : 'cancelled'
      const stored = tutored ? await saveTutoredTurn(tutored, result, logger) : {}
      await this.send({
        type: 'complete',
        content: result.content,
        generated_code: result.generatedCode,
        ...(result.usage ? { usage: toWireUsage(result.usage) } : {}),
        model: result.model,
        finish_reason: result.finishReason,
        ...(result.cancelled ? { cancelled: true as const } : {}),
        ...stored,
        ...withId,
      })
    } catch (error) {
      if (error instanceof ProviderError) {
        outcome = 'upstream_error'
        await this.send(errorFrame(error.message, 'upstream_error', id))
      } else if (error instanceof AppError) {
        outcome = error.code
        await this.send(errorFrame(error.message, error.code, id))
      } else {
        outcome = 'internal_error'
        this.options.logger.error('chat turn failed', {
          error: (error as Error)?.message,
          stack: (error as Error)?.stack,
        })
        await this.send(errorFrame('Internal error while answering; please try again', 'internal_error', id))
      }
    }
    this.options.logger.info('chat turn', {
      model,
      mode: body.mode ?? 'autocomplete',
      ...(body.task === undefined ? {} : { task: body.task }),
      ...(hintLevel === undefined ? {} : { hint_level: hintLevel }),
      outcome,
      frames,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
    })
  }

  /** Sends in order, waiting for `drain` whenever Bun reports backpressure. */
  private async send(frame: ServerFrame): Promise<void> {
    while (this.drain && !this.closed) await this.drain.promise
    if (this.closed) return
    const status = this.socket.send(JSON.stringify(frame))
    if (status === -1) {
      // Queued in Bun's buffer: produce nothing more (and read nothing more upstream) until it drains.
      this.drain = Promise.withResolvers<void>()
      await this.drain.promise
    } else if (status === 0) {
      // Dropped: the client would see a gap in the answer. Better to end the connection and let it retry.
      this.socket.close(1011, 'send buffer overflow')
      this.close()
    }
  }
}
