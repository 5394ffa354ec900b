/**
 * The chat service, free of HTTP and WebSocket types. A turn is one request → progress frames → one result:
 * the WebSocket relays the frames as they come, POST /api/chat only keeps the result.
 */
import type { TokenBudget } from '../access/token-budget'
import { estimateUsage } from '../access/token-budget'
import { AppError } from '../errors'
import type { ChatProvider, ChatRequest, ProviderRegistry, Usage } from '../providers/provider'
import { ProviderError } from '../providers/complete'
import { describeFailure } from '../providers/failure'
import type { ChatBody, ChatResponse, ChatUsage, Mode } from './model'
import { MODE, type ProgressFrame } from './modes'
import { promptMessages } from '../tutor/prompts'
import type { Tutor, TutoredTurn } from '../tutor/service'
import type { Logger } from '../logging'

export interface Turn {
  provider: ChatProvider
  request: ChatRequest
  mode: Mode
  /** A request about a task: the tutor built the messages and filters the answer (src/tutor). */
  tutored?: TutoredTurn
}

export interface TurnResult {
  content: string
  generatedCode: string
  model: string
  finishReason: string
  usage?: Usage
  /** The turn was aborted (cancel, closed socket): content and code are what had arrived. */
  cancelled: boolean
  /** What the model call cost: the provider's figures, else an estimate (src/access/token-budget.ts). */
  spent: Usage
}

/** What a turn may spend: the AI_MAX_TOKENS cap and the client's token budget of the day. */
export interface TurnLimits {
  maxTokens?: number
  budget?: TokenBudget
}

/**
 * Resolves the provider (AppError 503 when not configured) and builds the model request for a body, its
 * `max_tokens` capped at `maxTokens` (the cap is sent when the body names none).
 */
export function prepareTurn(
  providers: ProviderRegistry,
  body: ChatBody,
  maxTokens?: number,
  tutored?: TutoredTurn,
): Turn {
  const mode = body.mode ?? 'autocomplete'
  const { provider, model } = providers.resolve(body.model)
  const current = body.proactive ? body.current_code : undefined
  const messages = tutored ? tutored.messages : promptMessages(mode, body.messages, current)
  const request: ChatRequest = { model, messages }
  const wanted = body.max_tokens ?? maxTokens
  if (wanted !== undefined) request.maxTokens = maxTokens === undefined ? wanted : Math.min(wanted, maxTokens)
  const format = MODE[mode].responseFormat
  if (format) request.responseFormat = format
  return { provider, request, mode, ...(tutored ? { tutored } : {}) }
}

/**
 * Streams one turn. `emit` is awaited, so a slow client (backpressure) slows the reading of the upstream
 * stream instead of buffering it. Throws ProviderError when the model API fails.
 */
export async function runTurn(
  turn: Turn,
  signal: AbortSignal,
  emit: (frame: ProgressFrame) => void | Promise<void>,
): Promise<TurnResult> {
  const reader = MODE[turn.mode].reader()
  const filter = turn.tutored?.filter
  const send = async (frames: ProgressFrame[]) => {
    for (const frame of frames) await emit(frame)
  }
  let finishReason: string | undefined
  let usage: Usage | undefined
  let received = 0
  try {
    for await (const part of turn.provider.stream(turn.request, signal)) {
      if (signal.aborted) break
      if (part.type === 'text-delta') {
        received += part.text.length
        for (const frame of reader.read(part.text)) await send(filter ? filter.frame(frame) : [frame])
      } else if (part.type === 'finish') {
        finishReason = part.reason
        usage = part.usage
      } else {
        throw new ProviderError(part.error)
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error instanceof ProviderError ? error : new ProviderError(describeFailure(error))
  }
  const cancelled = signal.aborted
  if (filter) await send(filter.flush())
  return {
    ...(filter ? filter.answer(reader.answer()) : reader.answer()),
    model: turn.request.model,
    finishReason: cancelled ? 'cancelled' : (finishReason ?? 'unknown'),
    ...(usage ? { usage } : {}),
    cancelled,
    spent: usage ?? estimateUsage(turn.request.messages, received),
  }
}

export const toWireUsage = (usage: Usage): ChatUsage => ({
  prompt_tokens: usage.promptTokens,
  completion_tokens: usage.completionTokens,
  total_tokens: usage.promptTokens + usage.completionTokens,
})

/** The upstream failure as our error: 502 with a readable message (never a key). */
export const upstreamError = (error: ProviderError) =>
  new AppError(
    'upstream_error',
    502,
    error.message,
    error.status === undefined ? undefined : { upstream_status: error.status },
  )

/** Who asks and who teaches: the tutor (absent when the app has none) and the learner (the access identity). */
export interface Tutoring {
  tutor?: Tutor
  learner: string
  logger: Logger
}

/** The tutored turn of a request with `task` or `conversation_id`; undefined for plain chat. */
export async function prepareTutoring(tutoring: Tutoring | undefined, body: ChatBody) {
  if (tutoring?.tutor) return tutoring.tutor.prepare(body, tutoring.learner)
  if (body.task === undefined && body.conversation_id === undefined && body.hint_level === undefined) return undefined
  throw new AppError('tutor_unavailable', 503, 'The tutor is not available on this server')
}

/**
 * Stores a tutored turn; the fields the answer gains. The answer was already given: when the store fails it
 * says so (`saved: false`, no conversation_id) rather than turning the answer into an error.
 */
export async function saveTutoredTurn(
  tutored: TutoredTurn,
  result: TurnResult,
  logger: Logger,
): Promise<{ conversation_id?: string; hint_level?: number; saved?: false }> {
  const level = tutored.level === undefined ? {} : { hint_level: tutored.level }
  try {
    return { conversation_id: await tutored.save(result), ...level }
  } catch (error) {
    logger.warn('chat turn not stored', { error: (error as Error)?.message })
    return { ...level, saved: false }
  }
}

/** POST /api/chat: the whole answer at once; 429 quota_exceeded when the client's token budget is spent. */
export async function answerChat(
  providers: ProviderRegistry,
  body: ChatBody,
  signal: AbortSignal,
  limits: TurnLimits = {},
  tutoring?: Tutoring,
): Promise<ChatResponse> {
  const tutored = await prepareTutoring(tutoring, body)
  const turn = prepareTurn(providers, body, limits.maxTokens, tutored)
  await limits.budget?.check()
  let result: TurnResult
  try {
    result = await runTurn(turn, signal, () => {})
  } catch (error) {
    if (error instanceof ProviderError) throw upstreamError(error)
    throw error
  }
  await limits.budget?.charge(result.model, result.spent)
  return {
    response: result.content,
    generated_code: result.generatedCode,
    ...(result.usage ? { usage: toWireUsage(result.usage) } : {}),
    model: result.model,
    finish_reason: result.finishReason,
    ...(tutored ? await saveTutoredTurn(tutored, result, tutoring!.logger) : {}),
  }
}
