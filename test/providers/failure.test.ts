import { describe, expect, test } from 'bun:test'
import { APIError } from 'openai'
import { describeFailure, redact } from '../../src/providers/failure'

describe('describeFailure', () => {
  test('an API error: status and the vendor’s sentence, with the key removed', () => {
    const error = new APIError(
      401,
      { message: 'Incorrect API key provided: sk-live-abcdef123456.' },
      undefined,
      new Headers(),
    )
    expect(describeFailure(error, ['sk-live-abcdef123456'])).toEqual({
      status: 401,
      message: 'The model API answered 401: Incorrect API key provided: [redacted].',
    })
  })

  test('Anthropic’s nested error body', () => {
    const error = Object.assign(new Error('529 {...}'), {
      status: 529,
      error: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    })
    expect(describeFailure(error)).toEqual({ status: 529, message: 'The model API answered 529: Overloaded' })
  })

  test('connection problems and timeouts', () => {
    expect(describeFailure(new Error('fetch failed'), [], 'connection')).toEqual({
      message: 'Could not reach the model API',
    })
    expect(describeFailure(new Error('timed out'), [], 'timeout')).toEqual({
      message: 'The model API did not answer in time',
    })
  })

  test('long messages are cut', () => {
    expect(describeFailure(new Error('x'.repeat(1000))).message.length).toBeLessThanOrEqual(300)
  })
})

describe('redact', () => {
  test.each([
    ['sk-proj-AbC123xyz', '[redacted]'],
    ['key sk-ant-api03-abc_DEF-123 here', 'key [redacted] here'],
    ['masked sk-abc***********xyz', 'masked [redacted]'],
    ['Authorization: Bearer abc.def', 'Authorization: [redacted]'],
    ['nothing secret', 'nothing secret'],
  ])('%s', (input, expected) => {
    expect(redact(input)).toBe(expected)
  })

  test('removes configured secrets of any shape', () => {
    expect(redact('token=zq9-secret-token!', ['zq9-secret-token'])).toBe('token=[redacted]!')
  })
})
