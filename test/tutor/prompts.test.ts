import { describe, expect, test } from 'bun:test'
import { promptMessages, SYSTEM_PROMPTS } from '../../src/tutor/prompts'

describe('promptMessages', () => {
  const messages = [
    { role: 'user' as const, content: 'first' },
    { role: 'assistant' as const, content: 'answer' },
    { role: 'user' as const, content: 'second' },
  ]

  test('puts the mode’s system prompt first and keeps the conversation', () => {
    expect(promptMessages('chat', messages)).toEqual([{ role: 'system', content: SYSTEM_PROMPTS.chat }, ...messages])
  })

  test('wraps only the last user message, once', () => {
    const out = promptMessages('autocomplete', messages, 'x = 1')
    expect(out.slice(1)).toEqual([
      messages[0]!,
      messages[1]!,
      { role: 'user', content: 'Code:\nx = 1\n\nMessage:\nsecond' },
    ])
    expect(JSON.stringify(out).split('Code:')).toHaveLength(2)
    expect(messages[2]!.content).toBe('second') // the caller's messages are not changed
  })

  test('an empty current_code adds nothing', () => {
    expect(promptMessages('chat', messages, '')).toEqual(promptMessages('chat', messages))
  })

  test('the autocomplete prompt asks for code first', () => {
    expect(SYSTEM_PROMPTS.autocomplete).toContain('{"code": string, "explanation": string}, code first')
  })
})
