import { describe, expect, test } from 'bun:test'
import type { ChatMessage } from '../../src/providers/provider'
import { buildTutorContext, type TutorContextInput } from '../../src/tutor/context'

const TESTS = [
  { title: 'Backend: Add', name: 'adds an item', kind: 'endpoint', public: true },
  { title: 'Backend: Add', name: 'keeps the order', kind: 'endpoint', public: true },
  { title: 'Backend: Add', name: 'rejects empty text', kind: 'endpoint', public: false },
] as TutorContextInput['task']['tests']

function input(overrides: Partial<TutorContextInput> = {}): TutorContextInput {
  return {
    task: { name: 'Todo', description: '<h1>Todo</h1><p>Write <code>add_item</code>.</p>', tests: TESTS },
    files: { 'backend.py': 'def add_item(items, text):\n    return items' },
    filesFrom: 'request',
    attempt: {
      created_at: '2026-12-07T10:00:00.000Z',
      score: { passed: 1, graded: 3, total: 3, percent: 33.3 },
      results: [
        {
          testName: 'adds an item',
          status: 'fail',
          message: 'Wrong result',
          expected: { items: ['milk'] },
          actual: { items: [] },
        },
        { testName: 'keeps the order', status: 'pass', message: 'ok', expected: 1, actual: 1 },
        // As an older attempt might hold it: not marked private, but private in the task.
        { testName: 'rejects empty text', status: 'fail', message: 'secret msg', expected: 'SECRET-EXP', actual: 'A' },
      ],
    },
    history: [],
    messages: [{ role: 'user', content: 'Why does my test fail?' }],
    level: 2,
    maxCodeLines: 6,
    mode: 'chat',
    budget: 20_000,
    boundary: 'DATA-1234',
    ...overrides,
  }
}

const text = (messages: ChatMessage[]) => messages.map((m) => m.content).join('\n')

describe('buildTutorContext', () => {
  test('our instructions first, then the task, files and last attempt as delimited data, then the message', () => {
    const { messages, omitted } = buildTutorContext(input())
    expect(messages.map((m) => m.role)).toEqual(['system', 'system', 'user'])
    expect(messages[0]!.content).toContain('Teach, do not solve')
    expect(messages[0]!.content).toContain('Hint level 2 of 4')
    const data = messages[1]!.content as string
    expect(data).toContain('<<<DATA-1234 task-instructions\n# Todo\n\nWrite `add_item`.\nDATA-1234>>>')
    expect(data).toContain('<<<DATA-1234 learner-file backend.py (request)\ndef add_item(items, text):')
    expect(data).toContain(
      '- "adds an item": fail. Wrong result\n  expected: {"items":["milk"]}\n  actual: {"items":[]}',
    )
    expect(data).toContain('Private tests (only their names and status are known):\n- "rejects empty text": fail')
    expect(data).toContain('Public tests that passed:\n- "keeps the order"')
    expect(text(messages)).not.toContain('SECRET-EXP')
    expect(text(messages)).not.toContain('secret msg')
    expect(messages[2]).toEqual({ role: 'user', content: 'Why does my test fail?' })
    expect(omitted).toEqual([])
  })

  test('a long expected or actual value is cut with a marker', () => {
    const long = 'x'.repeat(2000)
    const base = input()
    const results = [{ ...base.attempt!.results[0]!, actual: long }]
    const { messages } = buildTutorContext(input({ attempt: { ...base.attempt!, results } }))
    expect(messages[1]!.content).toMatch(/actual: "x{399}… \[cut: 1602 more characters\]/)
  })

  test('over the budget, passing tests go first, then old turns; the failing test and newest message stay', () => {
    const history: ChatMessage[] = Array.from({ length: 10 }, (_, i) => ({
      role: i % 2 ? 'assistant' : 'user',
      content: `turn ${i} ${'.'.repeat(300)}`,
    }))
    const whole = buildTutorContext(input({ history }))
    const size = whole.messages.reduce((n, m) => n + (m.content as string).length, 0)

    const small = buildTutorContext(input({ history, budget: size - 10 }))
    expect(small.omitted[0]).toBe('the list of passing tests')

    const smaller = buildTutorContext(input({ history, budget: size - 1000 }))
    expect(smaller.omitted).toEqual(['the list of passing tests', 'older messages of this conversation'])
    expect(smaller.messages.length).toBeLessThan(whole.messages.length)
    expect(smaller.messages.at(-2)!.content).toStartWith('turn 9 ')
    expect(smaller.messages[1]!.content).toContain('- "adds an item": fail.')
    expect(smaller.messages[1]!.content).toContain('Left out to keep this short: the list of passing tests; older')
    expect(smaller.messages.at(-1)).toEqual({ role: 'user', content: 'Why does my test fail?' })
    expect(smaller.messages.reduce((n, m) => n + (m.content as string).length, 0)).toBeLessThanOrEqual(size - 1000)
  })

  test('a tiny budget shortens the files and instructions with a marker instead of failing', () => {
    const files = { 'backend.py': 'y = 1\n'.repeat(2000) }
    const { messages, omitted } = buildTutorContext(input({ files, budget: 4000 }))
    expect(messages.reduce((n, m) => n + (m.content as string).length, 0)).toBeLessThanOrEqual(4000)
    expect(messages[1]!.content).toMatch(/y = 1\n… \[cut: \d+ more characters\]/)
    expect(omitted).toContain('the list of passing tests')
    expect(messages.at(-1)!.content).toBe('Why does my test fail?')
  })

  test('structured mode at levels below 4 asks for no code at all', () => {
    const [rules] = buildTutorContext(input({ mode: 'autocomplete', level: 3 })).messages
    expect(rules!.content).toContain('"code" must be "" at this hint level.')
    const [four] = buildTutorContext(input({ mode: 'autocomplete', level: 4 })).messages
    expect(four!.content).toContain('at most 6 lines')
  })
})
