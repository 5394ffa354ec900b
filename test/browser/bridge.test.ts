/**
 * The DevTools bridge's message filter, fed the byte stream a browser writes (messages ended by NUL, cut anywhere):
 * what reaches playwright, what is dropped, and what is answered in its place.
 */
import { describe, expect, test } from 'bun:test'
import { createMessageFilter } from '../../src/browser/bridge'

const limits = { response: 1000, screenshot: 5000, event: 1000 }
const SESSION = ',"sessionId":"0123456789ABCDEF0123456789ABCDEF"'

function filtered(room = () => true) {
  const forwarded: string[] = []
  const replies: unknown[] = []
  const filter = createMessageFilter({
    limits,
    forward: (message) => {
      forwarded.push(Buffer.from(message).toString('utf8'))
      return room()
    },
    reply: (message) => void replies.push(JSON.parse(message)),
  })
  /** Sends `text` in pieces of `size` bytes. */
  const feed = (text: string, size = 7) => {
    const bytes = Buffer.from(text)
    let room = true
    for (let at = 0; at < bytes.length; at += size) room = filter.push(bytes.subarray(at, at + size)) && room
    return room
  }
  return { filter, forwarded, replies, feed }
}

describe('the DevTools message filter', () => {
  test('passes messages whole, however the stream is cut, and drops console, log and exception events', () => {
    const { filter, forwarded, feed } = filtered()
    const messages = [
      `{"id":1,"result":{}}`,
      `{"method":"Runtime.consoleAPICalled","params":{"type":"log","args":[{"value":"${'x'.repeat(3000)}"}]}${SESSION}}`,
      `{"method":"Page.loadEventFired","params":{}${SESSION}}`,
      `{"method":"Log.entryAdded","params":{}}`,
      `{"method":"Runtime.exceptionThrown","params":{}}`,
      `{"id":2,"result":{"value":"é"}${SESSION}}`,
    ]
    feed(messages.map((message) => `${message}\0`).join(''), 5)
    expect(forwarded).toEqual([messages[0]!, messages[2]!, messages[5]!])
    expect(filter.stats()).toMatchObject({ dropped: 3, oversized: 0 })
    expect(filter.stats().discardedBytes).toBeGreaterThan(0)
  })

  test('an answer over its limit becomes an error for that command, in its session; a screenshot may be larger', () => {
    const { filter, forwarded, feed } = filtered()
    filter.sent(`{"id":7,"method":"Runtime.callFunctionOn","params":{}}`)
    filter.sent(`{"id":8,"method":"Page.captureScreenshot","params":{}}`)
    const screenshot = `{"id":8,"result":{"data":"${'A'.repeat(3000)}"}${SESSION}}`
    feed(`{"id":7,"result":{"value":"${'x'.repeat(3000)}"}${SESSION}}\0${screenshot}\0`, 64)
    expect(forwarded.map((message) => JSON.parse(message))).toEqual([
      {
        id: 7,
        error: { code: -32000, message: "The page's answer was larger than 1000 bytes" },
        sessionId: '0123456789ABCDEF0123456789ABCDEF',
      },
      JSON.parse(screenshot),
    ])
    expect(filter.stats()).toMatchObject({ dropped: 0, oversized: 1 })
    expect(filter.stats().discardedBytes).toBeGreaterThan(1000) // what the runner weighs a page's traffic by
  })

  test('a paused request with a huge body is answered 413 by the bridge; other huge events are dropped', () => {
    const { forwarded, replies, feed } = filtered()
    const body = 'x'.repeat(3000)
    feed(
      `{"method":"Fetch.requestPaused","params":{"requestId":"interception-job-4.0","request":{"postData":"${body}"}}${SESSION}}\0` +
        `{"method":"Network.requestWillBeSent","params":{"requestId":"4.1","request":{"postData":"${body}"}}${SESSION}}\0` +
        `{"id":3,"result":{}}\0`,
      100,
    )
    expect(forwarded).toEqual(['{"id":3,"result":{}}'])
    expect(replies).toEqual([
      {
        id: expect.any(Number),
        method: 'Fetch.fulfillRequest',
        params: {
          requestId: 'interception-job-4.0',
          responseCode: 413,
          responseHeaders: [{ name: 'content-type', value: 'text/plain' }],
          body: Buffer.from('Request too large').toString('base64'),
        },
        sessionId: '0123456789ABCDEF0123456789ABCDEF',
      },
    ])
  })

  test("the bridge's own commands' answers never reach playwright", () => {
    const { forwarded, replies, feed } = filtered()
    feed(
      `{"method":"Fetch.requestPaused","params":{"requestId":"r1","request":{"postData":"${'x'.repeat(3000)}"}}${SESSION}}\0`,
    )
    const { id } = replies[0] as { id: number }
    feed(`{"id":${id},"result":{}${SESSION}}\0{"id":4,"result":{}}\0`)
    expect(forwarded).toEqual(['{"id":4,"result":{}}'])
  })

  test("push says when playwright's side is full, so reading pauses", () => {
    let full = false
    const { feed } = filtered(() => !full)
    expect(feed('{"id":1,"result":{}}\0')).toBe(true)
    full = true
    expect(feed('{"id":2,"result":{}}\0')).toBe(false)
  })
})
