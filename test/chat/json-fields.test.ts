import { describe, expect, test } from 'bun:test'
import { JsonFieldReader, type FieldEvent } from '../../src/chat/json-fields'

/** Feeds `text` in pieces of `size` characters and merges consecutive deltas of the same field. */
function read(text: string, size = text.length) {
  const reader = new JsonFieldReader()
  const events: FieldEvent[] = []
  for (let i = 0; i < text.length; i += size) events.push(...reader.feed(text.slice(i, i + size)))
  const merged: FieldEvent[] = []
  for (const event of events) {
    const last = merged.at(-1)
    if (last && last.type === event.type && event.type !== 'end' && (last as any).field === (event as any).field) {
      ;(last as { text: string }).text += (event as { text: string }).text
    } else merged.push({ ...event })
  }
  return { events: merged, fields: reader.fields, plain: reader.plain }
}

const tricky = { code: 'print("a\\tb")\n# é 😀 \u0001', explanation: 'Use "quotes" and \\ backslashes 😀.' }
const JSON_TEXT = JSON.stringify(tricky)
const ESCAPED = JSON.stringify(tricky, null, 0).replace(/😀/g, '\\ud83d\\ude00').replace('é', '\\u00e9')

describe('JsonFieldReader', () => {
  test.each([1, 2, 3, 7, 1000])('decodes string fields the same whatever the piece size (%i)', (size) => {
    for (const text of [JSON_TEXT, ESCAPED]) {
      const { events, fields } = read(text, size)
      expect(fields).toEqual(tricky)
      expect(events).toEqual([
        { type: 'delta', field: 'code', text: tricky.code },
        { type: 'end', field: 'code', value: tricky.code },
        { type: 'delta', field: 'explanation', text: tricky.explanation },
        { type: 'end', field: 'explanation', value: tricky.explanation },
      ])
    }
  })

  test('reports the end of a field as soon as its string closes', () => {
    const reader = new JsonFieldReader()
    expect(reader.feed('{"code": "x = 1"')).toEqual([
      { type: 'delta', field: 'code', text: 'x = 1' },
      { type: 'end', field: 'code', value: 'x = 1' },
    ])
    expect(reader.feed(', "explanation": "Se')).toEqual([{ type: 'delta', field: 'explanation', text: 'Se' }])
    expect(reader.fields).toEqual({ code: 'x = 1', explanation: 'Se' })
  })

  test('never splits a surrogate pair between two deltas', () => {
    const reader = new JsonFieldReader()
    const first = reader.feed('{"explanation":"a\\ud83d')
    const second = reader.feed('\\ude00b"}')
    expect(first).toEqual([{ type: 'delta', field: 'explanation', text: 'a' }])
    expect(second[0]).toEqual({ type: 'delta', field: 'explanation', text: '😀b' })
  })

  test('skips values that are not strings, nested or not', () => {
    const text = '{"n": 1.5, "o": {"a": [1, "}", {"b": null}]}, "t": true, "code": "c", "x": [], "explanation": "e"}'
    expect(read(text, 1).fields).toEqual({ code: 'c', explanation: 'e' })
  })

  test('tolerates whitespace and a Markdown fence around the object', () => {
    const text = '```json\n{\n  "code" : "c",\n  "explanation" : "e"\n}\n```'
    expect(read(text, 2)).toMatchObject({ fields: { code: 'c', explanation: 'e' }, plain: false })
  })

  test('an answer that is not a JSON object is relayed as plain text', () => {
    const { events, plain } = read('Sure! Use a loop.', 4)
    expect(plain).toBe(true)
    expect(events).toEqual([{ type: 'text', text: 'Sure! Use a loop.' }])
  })

  test('a cut answer keeps what had arrived', () => {
    expect(read('{"code":"x = 1","explanation":"Sets x to', 5).fields).toEqual({
      code: 'x = 1',
      explanation: 'Sets x to',
    })
  })
})
