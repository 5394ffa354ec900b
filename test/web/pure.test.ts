/** The small pure pieces of the playground: encoding choice, asset references, the preview document, SSE blocks. */
import { describe, expect, test } from 'bun:test'
import { pointAtAssets } from '../../src/web/bundle'
import { pickEncoding } from '../../src/web/index'
import { parseEvent } from '../../src/web/page/api'
import { previewDocument } from '../../src/web/page/preview-html'

describe('pickEncoding', () => {
  test('brotli when accepted, else gzip, else none; q=0 refuses', () => {
    expect(
      ['gzip, deflate, br, zstd', 'gzip', 'br;q=0, gzip', 'identity', null, '*', 'gzip;q=0, br;q=0'].map(pickEncoding),
    ).toEqual(['br', 'gzip', 'gzip', 'identity', 'identity', 'br', 'identity'])
  })
})

describe('pointAtAssets', () => {
  test('rewrites references to output files, whatever their form, and nothing else', () => {
    const html = '<script src="/index-abc.js"></script><link href="./index-def.css"><a href="/index-abc.jsx">'
    expect(pointAtAssets(html, ['index-abc.js', 'index-def.css'])).toBe(
      '<script src="/play/assets/index-abc.js"></script><link href="/play/assets/index-def.css"><a href="/index-abc.jsx">',
    )
  })
})

describe('previewDocument', () => {
  test("puts the learner's stylesheet and script inline, where the HTML referenced them", () => {
    const files = {
      'index.html':
        '<head><link rel="stylesheet" href="style.css"></head><body><script src="./script.js"></script></body>',
      'style.css': 'b { color: red }',
      'script.js': 'console.log(1)',
    }
    expect(previewDocument(files)).toBe(
      '<head><style>b { color: red }</style></head><body><script>console.log(1)</script></body>',
    )
  })

  test('a deferred script goes to the end of the body, where it still runs after the page is parsed', () => {
    const files = {
      'index.html': '<head><script defer src="a.js"></script></head><body><p>x</p></body>',
      'a.js': 'go()',
    }
    expect(previewDocument(files)).toBe('<head></head><body><p>x</p><script>go()</script></body>')
  })

  test('a file cannot close its element early', () => {
    const files = { 'index.html': '<script src="a.js"></script>', 'a.js': 'x = "</script><b>"' }
    expect(previewDocument(files)).toBe('<script>x = "<\\/script><b>"</script>')
  })
})

describe('parseEvent', () => {
  test('reads the event name and joins data lines', () => {
    expect(parseEvent('event: result\ndata: {"a":\ndata: 1}')).toEqual({ event: 'result', data: '{"a":\n1}' })
    expect(parseEvent('data: x')).toEqual({ event: 'message', data: 'x' })
  })
})
