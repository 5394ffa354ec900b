import { describe, expect, test } from 'bun:test'
import { AppError } from '../../src/errors'
import { parseScreenshot } from '../../src/judge/screenshot'
import { GIF, JPEG, PNG, PNG_BYTES, WEBP } from './images'

describe('parseScreenshot', () => {
  test('accepts a PNG data URL and gives its media type, base64 data and size', () => {
    expect(parseScreenshot(PNG)).toEqual({
      mediaType: 'image/png',
      data: PNG_BYTES.toString('base64'),
      bytes: PNG_BYTES.length,
    })
  })

  test.each([
    ['image/jpeg', JPEG],
    ['image/jpeg', JPEG.replace('image/jpeg', 'image/jpg')],
    ['image/gif', GIF],
    ['image/webp', WEBP],
  ])('accepts %s', (mediaType, url) => {
    expect(parseScreenshot(url).mediaType as string).toBe(mediaType)
  })

  const rejects = (value: unknown, message: RegExp, max?: number) => {
    let error: unknown
    try {
      parseScreenshot(value, max)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(AppError)
    expect(error).toMatchObject({ status: 400, code: 'invalid_screenshot', message: expect.stringMatching(message) })
  }

  test.each([
    ['missing', undefined, /required/],
    ['not a string', 42, /required/],
    ['empty', '', /required/],
    ['not a data URL', 'https://example.com/shot.png', /base64 data URL/],
    ['an SVG', 'data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=', /base64 data URL/],
    ['not base64-encoded', 'data:image/png,rawbytes', /base64 data URL/],
    ['broken base64', 'data:image/png;base64,iVBOR*w0K', /not valid base64/],
    ['base64 of the wrong length', 'data:image/png;base64,iVBORw0KG', /not valid base64/],
    ['empty data', 'data:image/png;base64,', /empty/],
    ['a JPEG labelled as PNG', JPEG.replace('image/jpeg', 'image/png'), /not a PNG image/],
    [
      'text labelled as GIF',
      `data:image/gif;base64,${Buffer.from('hello world!').toString('base64')}`,
      /not a GIF image/,
    ],
  ])('rejects %s', (_, value, message) => rejects(value, message))

  test('rejects an image over the decoded size cap', () => {
    rejects(PNG, /is \d+ bytes; the limit is 16/, 16)
  })
})
