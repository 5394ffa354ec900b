/**
 * The tutor as the chat feature asks it: for a request about a task (or continuing a conversation) it finds the
 * task, the learner's conversation and last attempt, picks the hint level, builds the model's messages and the
 * filter over the answer, and stores the turn once it is answered. Knows nothing about HTTP or WebSockets, and
 * providers never learn about tasks: they only get the messages built here.
 */
import { randomBytes } from 'node:crypto'
import { normalizeFrontendCode } from '../browser/files'
import { promptMessages, type Mode } from './prompts'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import type { ChatMessage } from '../providers/provider'
import type { AttemptFiles, Conversation, Store } from '../store/port'
import type { LoadedTask } from '../tasks/loader'
import type { TaskStore } from '../tasks/store'
import { buildTutorContext } from './context'
import { codeAllowance, cutNote, hintLevel, MAX_HINT_LEVEL } from './hints'
import { type OutputFilter, tutorFilter } from './output'

/** The settings this module reads (src/config.ts documents each). */
/** The parts of a chat request the tutor reads (the chat feature's TutorRequest carries them all). */
export interface TutorRequest {
  messages: ChatMessage[]
  mode?: Mode
  proactive?: boolean
  current_code?: string
  task?: string
  files?: { backendCode?: string; frontendCode?: unknown }
  conversation_id?: string
  hint_level?: number
}

export interface TutorSettings {
  TUTOR_CONTEXT_CHARS: number
  TUTOR_MAX_CODE_LINES: number
}

export interface TutorDeps {
  tasks: Pick<TaskStore, 'find'>
  store: Pick<Store, 'lastAttempt' | 'getConversation' | 'createConversation' | 'appendMessages'>
  config: TutorSettings
  logger: Logger
}

/** One tutored request, ready to be sent to the model. */
export interface TutoredTurn {
  messages: ChatMessage[]
  /** The hint level the answer is given at (absent for a conversation outside a task). */
  level?: number
  /** Applied to every progress frame before it is sent. */
  filter?: OutputFilter
  /** Stores the request and the answer as sent; resolves with the conversation's id. */
  save(answer: { content: string; generatedCode: string }): Promise<string>
}

export interface Tutor {
  /**
   * The tutored turn for a request with `task` or `conversation_id`; undefined for any other request (plain chat
   * stays as it was). AppError for an unknown task or conversation, or a mode the task refuses.
   */
  prepare(body: TutorRequest, learner: string): Promise<TutoredTurn | undefined>
}

const TITLE_CHARS = 80

/** The client's messages that are new: those after the stored turns when it sent the whole history again. */
type Turn = { role: 'user' | 'assistant'; content: string }

function newMessages(stored: Conversation['messages'], sent: TutorRequest['messages']): Turn[] {
  const turns = sent.filter((m): m is Turn => m.role !== 'system')
  let same = 0
  while (
    same < stored.length &&
    same < turns.length - 1 &&
    stored[same]!.role === turns[same]!.role &&
    stored[same]!.content === turns[same]!.content
  )
    same++
  return turns.slice(same).map(({ role, content }) => ({ role, content }))
}

/** The learner's files as path → content: sent with the request, else saved with the last attempt. */
function filesOf(files: AttemptFiles | TutorRequest['files'] | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (!files) return out
  if (typeof files.backendCode === 'string' && files.backendCode.trim()) out['backend.py'] = files.backendCode
  if (files.frontendCode !== undefined) Object.assign(out, normalizeFrontendCode(files.frontendCode))
  return out
}

/** The files the tutor reads: sent with the request (or `current_code`), else those of the last attempt. */
function learnerFiles(body: TutorRequest, saved: AttemptFiles | undefined) {
  const sent = filesOf(body.files)
  if (Object.keys(sent).length) return { files: sent, filesFrom: 'request' as const }
  if (body.current_code?.trim()) return { files: { 'backend.py': body.current_code }, filesFrom: 'request' as const }
  const files = filesOf(saved)
  return { files, filesFrom: Object.keys(files).length ? ('attempt' as const) : ('none' as const) }
}

export function createTutor({ tasks, store, config, logger }: TutorDeps): Tutor {
  const maxCodeLines = config.TUTOR_MAX_CODE_LINES

  async function findTask(name: string): Promise<LoadedTask> {
    const task = await tasks.find(name)
    if (!task) throw new AppError('task_not_found', 404, `Unknown task ${JSON.stringify(name)}`)
    return task
  }

  return {
    async prepare(body, learner) {
      if (body.task === undefined && body.conversation_id === undefined) {
        if (body.hint_level === undefined) return undefined
        throw new AppError('validation_error', 422, 'hint_level applies to a task: send "task" with it')
      }
      const conversation =
        body.conversation_id === undefined
          ? undefined
          : await store.getConversation({ learner, admin: false }, body.conversation_id).catch((error) => {
              logger.warn('tutor: conversation unavailable', { error: (error as Error)?.message })
              throw new AppError('store_unavailable', 503, 'Conversations cannot be read right now; try again soon')
            })
      if (body.conversation_id !== undefined && !conversation) {
        throw new AppError(
          'conversation_not_found',
          404,
          `No conversation ${JSON.stringify(body.conversation_id)} of yours`,
        )
      }
      if (conversation && body.task !== undefined && conversation.task !== null) {
        const named = await findTask(body.task)
        if (named.slug !== conversation.task) {
          throw new AppError(
            'validation_error',
            422,
            `Conversation ${conversation.id} is about the task "${conversation.task}", not "${named.slug}"`,
          )
        }
      }
      const slug = body.task ?? conversation?.task ?? undefined
      const task = slug === undefined ? undefined : await findTask(slug)
      const mode = body.mode ?? 'autocomplete'
      if (task && mode === 'autocomplete' && task.tutor?.autocomplete === false) {
        throw new AppError(
          'mode_not_allowed',
          422,
          `The task "${task.name}" does not allow the structured (autocomplete) mode; send "mode": "chat"`,
        )
      }

      const stored = conversation?.messages ?? []
      const fresh = newMessages(stored, body.messages)
      if (!fresh.some((m) => m.role === 'user')) {
        throw new AppError('validation_error', 422, 'Send the new question as a user message')
      }
      const history: ChatMessage[] = stored
        .filter((m) => m.role !== 'system')
        .map(({ role, content }) => ({ role, content }))
      let level: number | undefined
      let messages: ChatMessage[]
      let filter: OutputFilter | undefined
      if (!task) {
        // A conversation outside a task: its turns, as plain chat would send them.
        messages = promptMessages(mode, [...history, ...fresh], body.proactive ? body.current_code : undefined)
      } else {
        const previous = stored.findLast((m) => m.hint_level !== undefined)?.hint_level
        const max = task.tutor?.max_hint_level ?? MAX_HINT_LEVEL
        level = hintLevel({ requested: body.hint_level, previous, max })
        const attempt = await store.lastAttempt(learner, task.slug).catch((error) => {
          logger.warn('tutor: last attempt unavailable', { task: task.slug, error: (error as Error)?.message })
          return undefined
        })
        const context = buildTutorContext({
          task,
          ...learnerFiles(body, attempt?.files),
          ...(attempt ? { attempt } : {}),
          history,
          messages: fresh,
          level,
          maxCodeLines,
          mode,
          budget: config.TUTOR_CONTEXT_CHARS,
          boundary: `DATA-${randomBytes(6).toString('hex')}`,
        })
        messages = context.messages
        filter = tutorFilter(codeAllowance(level, maxCodeLines), cutNote(level, maxCodeLines))
      }

      return {
        messages,
        ...(level === undefined ? {} : { level }),
        ...(filter ? { filter } : {}),
        async save({ content, generatedCode }) {
          const firstQuestion = fresh.find((m) => m.role === 'user')!.content
          const id =
            conversation?.id ??
            (await store.createConversation(learner, task?.slug ?? null, firstQuestion.slice(0, TITLE_CHARS))).id
          const answer = generatedCode.trim() ? `${content}\n\n\`\`\`\n${generatedCode}\n\`\`\`` : content
          await store.appendMessages(id, [
            ...fresh,
            { role: 'assistant', content: answer, ...(level === undefined ? {} : { hint_level: level }) },
          ])
          return id
        },
      }
    },
  }
}
