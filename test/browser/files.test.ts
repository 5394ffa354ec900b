/** The learner's front end as clients send it, normalized or refused with a 400; and the setup of a test. */
import { describe, expect, test } from 'bun:test'
import { Value } from '@sinclair/typebox/value'
import { FRONTEND_MAX_BYTES, FRONTEND_MAX_FILES, normalizeFrontendCode } from '../../src/browser/files'
import { AppError } from '../../src/errors'
import { InteractiveTestCase } from '../../src/tasks/model'

const refusal = (input: unknown) => {
  try {
    normalizeFrontendCode(input)
  } catch (error) {
    expect(error).toBeInstanceOf(AppError)
    const { code, status, message } = error as AppError
    return { code, status, message }
  }
  throw new Error('accepted')
}

describe('normalizeFrontendCode', () => {
  test('{ html, css, js } as the original IDE sends it becomes index.html, style.css and script.js', () => {
    expect(normalizeFrontendCode({ html: '<p>hi</p>', css: 'p {}', js: '1' })).toEqual({
      'index.html': '<p>hi</p>',
      'style.css': 'p {}',
      'script.js': '1',
    })
  })

  test('paths keep their folders and lose a leading ./ or /', () => {
    expect(normalizeFrontendCode({ './index.html': 'a', '/css/site.css': 'b', 'img/logo.svg': '<svg/>' })).toEqual({
      'index.html': 'a',
      'css/site.css': 'b',
      'img/logo.svg': '<svg/>',
    })
  })

  test('bad shapes, paths and sizes are a 400 validation_error naming the problem', () => {
    expect(refusal('<p>')).toMatchObject({ code: 'validation_error', status: 400 })
    expect(refusal([])).toMatchObject({ status: 400 })
    expect(refusal({})).toMatchObject({ message: 'frontendCode: no files' })
    expect(refusal({ 'index.html': 1 })).toMatchObject({
      message: 'frontendCode: the content of "index.html" must be a string',
    })
    expect(refusal({ 'index.html': '', '../etc/passwd': '' }).message).toStartWith(
      'frontendCode: bad file path "../etc/passwd"',
    )
    expect(refusal({ 'index.html': '', 'a//b.js': '' }).message).toStartWith('frontendCode: bad file path')
    expect(refusal({ 'style.css': 'p {}' })).toMatchObject({ message: expect.stringContaining('no HTML page') })
    expect(refusal({ 'index.html': '', './index.html': '' })).toMatchObject({
      message: 'frontendCode: index.html given twice',
    })
    const many = Object.fromEntries(Array.from({ length: FRONTEND_MAX_FILES + 1 }, (_, i) => [`f${i}.html`, '']))
    expect(refusal(many).message).toBe(`frontendCode: at most ${FRONTEND_MAX_FILES} files`)
    expect(refusal({ 'index.html': 'x'.repeat(FRONTEND_MAX_BYTES + 1) }).message).toBe(
      `frontendCode: more than ${FRONTEND_MAX_BYTES} bytes in all`,
    )
  })

  test('a page not named index.html is still the page', async () => {
    const { entryPage } = await import('../../src/browser')
    expect(entryPage(normalizeFrontendCode({ 'app.html': '', 'app.js': '' }))).toBe('app.html')
  })
})

describe('the setup of an interactive test', () => {
  const interactive = (setup: unknown) => ({
    name: 't',
    type: 'frontend_interactive',
    setup,
    steps: [{ action: 'click', selector: '#a' }],
  })

  test('mocks, localStorage and cookies are accepted', () => {
    const setup = {
      mocks: [
        { endpoint: '/check_winner', method: 'POST', response: { winner: 'X' } },
        { endpoint: '/move', sequence: [{ body: { ok: true } }, { status: 409, body: 'taken' }], delay: 100 },
      ],
      localStorage: { todos: '[]' },
      cookies: [{ name: 'theme', value: 'dark' }],
    }
    expect(Value.Check(InteractiveTestCase, interactive(setup))).toBe(true)
  })

  test('unknown fields, relative endpoints, long delays and too many mocks are refused', () => {
    expect(Value.Check(InteractiveTestCase, interactive({ other: 1 }))).toBe(false)
    expect(Value.Check(InteractiveTestCase, interactive({ mocks: [{ endpoint: 'check' }] }))).toBe(false)
    expect(Value.Check(InteractiveTestCase, interactive({ mocks: [{ endpoint: '/a', delay: 60_000 }] }))).toBe(false)
    expect(Value.Check(InteractiveTestCase, interactive({ mocks: Array(51).fill({ endpoint: '/a' }) }))).toBe(false)
    expect(Value.Check(InteractiveTestCase, interactive({ mocks: [{ endpoint: '/a', sequence: [] }] }))).toBe(false)
  })
})
