/**
 * Schemas of the chat feature (README, "Chat"): the request body shared by /ws/chat and /api/chat, the
 * HTTP answer, and the WebSocket frames. Field names follow the contract exactly (snake_case on the wire).
 */
import { t } from 'elysia'
import { FrontendCode } from '../execution/model'

export const MODES = ['chat', 'autocomplete'] as const
export type Mode = (typeof MODES)[number]

export const ChatMessageBody = t.Object(
  {
    role: t.Union([t.Literal('system'), t.Literal('user'), t.Literal('assistant')]),
    content: t.String(),
  },
  { title: 'ChatMessage', description: 'One message of the conversation, oldest first.' },
)

export const FrameId = t.Union([t.String({ maxLength: 128 }), t.Number()], {
  description: 'Chosen by the client; echoed on every frame of the response to this request.',
})

export const ChatBody = t.Object(
  {
    messages: t.Array(ChatMessageBody, { minItems: 1, maxItems: 500 }),
    model: t.Optional(
      t.String({ minLength: 1, maxLength: 200, description: 'Default: DEFAULT_MODEL. `claude-*` goes to Anthropic.' }),
    ),
    max_tokens: t.Optional(t.Integer({ minimum: 1, maximum: 200_000 })),
    mode: t.Optional(
      t.Union([t.Literal('chat'), t.Literal('autocomplete')], {
        description: '`autocomplete` (default): code plus explanation, code first; `chat`: plain text.',
      }),
    ),
    proactive: t.Optional(
      t.Boolean({ description: 'With `current_code`, the last user message is sent with the code as context.' }),
    ),
    current_code: t.Optional(t.String()),
    id: t.Optional(FrameId),
    task: t.Optional(
      t.String({
        minLength: 1,
        maxLength: 200,
        description:
          "A task's slug or name: the tutor reads its instructions, your files and your last attempt, and teaches " +
          'instead of solving (hint levels, code held back).',
      }),
    ),
    files: t.Optional(
      t.Object(
        { backendCode: t.Optional(t.String()), frontendCode: t.Optional(FrontendCode) },
        { description: 'Your current files, as in grading; default: those of your last attempt at the task.' },
      ),
    ),
    conversation_id: t.Optional(
      t.String({
        minLength: 1,
        maxLength: 100,
        description: 'Continues one of your conversations: the server supplies its earlier turns.',
      }),
    ),
    hint_level: t.Optional(
      t.Integer({
        minimum: 1,
        maximum: 4,
        description:
          '1 a nudge, 2 the concept and where to look, 3 the steps in words, 4 a short code fragment. Default: one ' +
          'above the conversation’s last, starting at 1.',
      }),
    ),
  },
  {
    title: 'ChatRequest',
    examples: [{ messages: [{ role: 'user', content: 'How do I reverse a list in Python?' }], mode: 'autocomplete' }],
  },
)
export type ChatBody = typeof ChatBody.static

export const ChatUsage = t.Object(
  { prompt_tokens: t.Integer(), completion_tokens: t.Integer(), total_tokens: t.Integer() },
  { title: 'ChatUsage', description: 'Tokens reported by the model API.' },
)
export type ChatUsage = typeof ChatUsage.static

const tutored = {
  conversation_id: t.Optional(
    t.String({ description: 'With `task`: the conversation this request was stored in; send it back to continue.' }),
  ),
  hint_level: t.Optional(t.Integer({ description: 'With `task`: the hint level the answer was given at.' })),
  saved: t.Optional(t.Literal(false, { description: 'The turn could not be stored (the database did not answer).' })),
}

export const ChatResponse = t.Object(
  {
    response: t.String({ description: 'The answer text (the explanation in autocomplete mode).' }),
    generated_code: t.String({ description: 'The code of an autocomplete answer; empty in chat mode or when none.' }),
    usage: t.Optional(ChatUsage),
    model: t.String(),
    finish_reason: t.String({ description: 'Why the model stopped: stop, length, end_turn, ...' }),
    ...tutored,
  },
  { title: 'ChatResponse' },
)
export type ChatResponse = typeof ChatResponse.static

export const CancelFrame = t.Object(
  { type: t.Literal('cancel'), id: t.Optional(FrameId) },
  {
    title: 'ChatCancel',
    description: 'Ends the current response (or the one with this id) and aborts its model request.',
  },
)

const withId = { id: t.Optional(FrameId) }

export const ServerFrame = t.Union(
  [
    t.Object({ type: t.Literal('code_ready'), generated_code: t.String(), ...withId }, { title: 'ChatCodeReadyFrame' }),
    t.Object({ type: t.Literal('chunk'), content: t.String(), ...withId }, { title: 'ChatChunkFrame' }),
    t.Object(
      {
        type: t.Literal('complete'),
        content: t.String(),
        generated_code: t.String(),
        usage: t.Optional(ChatUsage),
        model: t.Optional(t.String()),
        finish_reason: t.Optional(t.String()),
        cancelled: t.Optional(t.Literal(true)),
        ...tutored,
        ...withId,
      },
      { title: 'ChatCompleteFrame' },
    ),
    t.Object(
      { type: t.Literal('error'), content: t.String(), error_type: t.String(), ...withId },
      { title: 'ChatErrorFrame' },
    ),
  ],
  { title: 'ChatServerFrame' },
)
export type ServerFrame = typeof ServerFrame.static
