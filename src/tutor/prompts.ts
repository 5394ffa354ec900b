/**
 * Every system prompt the model gets (plain chat and the tutor alike), and the one place the learner's code is
 * added as context.
 */
import type { ChatMessage } from '../providers/provider'

/** How the model answers: plain text (chat) or structured `{code, explanation}` (autocomplete). */
export type Mode = 'chat' | 'autocomplete'

const TUTOR =
  'You are a patient coding tutor inside a browser-based learning environment. Help the learner understand, ' +
  'not just finish: explain briefly and concretely, point at the line that matters, and prefer a hint or a small ' +
  'example over a full solution unless they ask for one.'

export const SYSTEM_PROMPTS: Record<Mode, string> = {
  chat: `${TUTOR} Answer in Markdown; put code in fenced blocks.`,
  autocomplete:
    `${TUTOR} Answer with a JSON object {"code": string, "explanation": string}, code first. ` +
    '"code" is the complete code the learner should have in the editor, or "" when no code change is needed. ' +
    '"explanation" is a short Markdown explanation for the learner of what the code does or what to do next.',
}

/** The last user message as the model sees it with the learner's current code. */
export const withCode = (code: string, message: string) => `Code:\n${code}\n\nMessage:\n${message}`

/**
 * The messages sent to the model: the mode's system prompt, then the client's messages, with the last user
 * message wrapped with `currentCode` when given (exactly once; the original wrapped it twice).
 */
export function promptMessages(mode: Mode, messages: readonly ChatMessage[], currentCode?: string): ChatMessage[] {
  const out: ChatMessage[] = [{ role: 'system', content: SYSTEM_PROMPTS[mode] }, ...messages.map((m) => ({ ...m }))]
  if (currentCode === undefined || currentCode === '') return out
  for (let i = out.length - 1; i > 0; i--) {
    const message = out[i]!
    if (message.role !== 'user' || typeof message.content !== 'string') continue
    out[i] = { role: 'user', content: withCode(currentCode, message.content) }
    break
  }
  return out
}
