/**
 * The tutor: `Message` and `Send`, `Hint` (asks for the next hint level), the answer streamed as it arrives
 * (markdown through DOMPurify, raw HTML shown as text), and the past conversations of this task. Requests carry
 * the task, the learner's files and the conversation id, so the server knows what the learner is working on.
 */
import { api, apiEvents, ChatSocket } from '../api'
import { byId, el, notify, when } from '../dom'
import { renderMarkdown } from '../markdown'
import { backendCode, changes, frontendCode, state } from '../state'
import type { ChatFrame, ChatMessage, ChatRequest, Json } from '../types'

const MAX_HINT_LEVEL = 4
const HINT_REQUEST = 'Give me a hint for the next step.'

export function mountTutor() {
  const log = byId('chat-log')
  const form = byId<HTMLFormElement>('chat-form')
  const message = byId<HTMLTextAreaElement>('message')
  const status = byId('tutor-status')
  const list = byId('conversations')
  let messages: ChatMessage[] = []
  let conversationId: string | undefined
  let hintLevel = 0
  let pending: { id: string; text: string; body: HTMLElement; frame: number } | undefined
  let counter = 0

  const socket = new ChatSocket({
    frame: (frame) => receive(frame),
    status: (text) => (status.textContent = text),
    unauthorized: () =>
      apiEvents.dispatchEvent(new CustomEvent('unauthorized', { detail: 'The tutor needs an access key.' })),
  })
  apiEvents.addEventListener('signed-in', () => socket.reset())

  const bubble = (role: ChatMessage['role'], text: string) => {
    const body = el('div', { class: 'body' })
    if (role === 'assistant') body.append(renderMarkdown(text))
    else body.textContent = text
    const who = role === 'assistant' ? 'Tutor' : 'You'
    const article = el('article', { class: `message ${role}` }, el('h4', { class: 'who' }, who), body)
    log.append(article)
    log.scrollTop = log.scrollHeight
    return body
  }

  const showLevel = () => {
    if (hintLevel) status.textContent = `Hint level ${hintLevel} of ${MAX_HINT_LEVEL}`
  }

  function receive(frame: ChatFrame) {
    if (!pending || String(frame.id) !== pending.id) return
    const current = pending
    if (frame.type === 'chunk') {
      current.text += frame.content
      // Rendering the whole answer again per chunk is cheap at chat sizes; once per frame keeps it so.
      if (!current.frame)
        current.frame = requestAnimationFrame(() => {
          current.frame = 0
          current.body.replaceChildren(renderMarkdown(current.text))
        })
    } else if (frame.type === 'complete') {
      cancelAnimationFrame(current.frame)
      current.text = frame.content || current.text
      current.body.replaceChildren(renderMarkdown(current.text))
      messages.push({ role: 'assistant', content: current.text })
      if (frame.conversation_id) conversationId = frame.conversation_id
      if (typeof frame.hint_level === 'number') hintLevel = frame.hint_level
      pending = undefined
      showLevel()
      log.setAttribute('aria-busy', 'false')
      void loadConversations()
    } else if (frame.type === 'error') {
      cancelAnimationFrame(current.frame)
      current.body.replaceChildren(el('p', { class: 'error' }, frame.content))
      pending = undefined
      log.setAttribute('aria-busy', 'false')
      if (/quota|too many/i.test(frame.content)) notify(frame.content)
    }
  }

  const ask = (text: string, hint?: number) => {
    if (pending || !text.trim()) return
    messages.push({ role: 'user', content: text })
    bubble('user', text)
    const id = `m${++counter}`
    const request: ChatRequest & { id: string } = {
      id,
      mode: 'chat',
      // With a conversation the server has the earlier turns; without one it needs them all.
      messages: conversationId ? [{ role: 'user', content: text }] : messages.slice(),
      ...(state.detail ? { task: state.detail.task.slug } : {}),
      files: { backendCode: backendCode(), frontendCode: frontendCode() },
      ...(conversationId ? { conversation_id: conversationId } : {}),
      ...(hint ? { hint_level: hint } : {}),
    }
    if (hint) hintLevel = hint
    pending = { id, text: '', body: bubble('assistant', ''), frame: 0 }
    log.setAttribute('aria-busy', 'true')
    socket.send(request)
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const text = message.value
    message.value = ''
    ask(text)
  })
  // Enter sends, Shift+Enter is a new line.
  message.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault()
      form.requestSubmit()
    }
  })
  byId('hint').addEventListener('click', () => ask(HINT_REQUEST, Math.min(MAX_HINT_LEVEL, hintLevel + 1)))

  const startOver = () => {
    messages = []
    conversationId = undefined
    hintLevel = 0
    pending = undefined
    log.replaceChildren()
    status.textContent = ''
  }
  byId('new-conversation').addEventListener('click', startOver)

  async function loadConversations() {
    const slug = state.detail?.task.slug
    if (!slug) return
    try {
      const { conversations } = await api.conversations(slug)
      list.replaceChildren(
        ...(conversations as Json[]).map((c) =>
          el(
            'li',
            {},
            el(
              'button',
              { type: 'button', 'data-id': String(c.id), class: 'link' },
              `${c.title || 'Conversation'} (${when(c.updated_at)})`,
            ),
          ),
        ),
      )
      if (!conversations.length) list.replaceChildren(el('li', { class: 'muted' }, 'No past conversations yet.'))
    } catch {
      list.replaceChildren(el('li', { class: 'muted' }, 'Past conversations are not available.'))
    }
  }

  list.addEventListener('click', async (event) => {
    const id = (event.target as HTMLElement).closest<HTMLElement>('[data-id]')?.dataset.id
    if (!id || pending) return
    try {
      const conversation = await api.conversation(id)
      startOver()
      conversationId = String(conversation.id)
      for (const m of conversation.messages as Json[]) {
        if (m.role !== 'user' && m.role !== 'assistant') continue
        messages.push({ role: m.role, content: String(m.content) })
        bubble(m.role, String(m.content))
        if (typeof m.hint_level === 'number') hintLevel = m.hint_level
      }
      showLevel()
    } catch (error) {
      notify(`The conversation could not be opened: ${(error as Error).message}`)
    }
  })

  changes.addEventListener('task', () => {
    startOver()
    void loadConversations()
  })
}
