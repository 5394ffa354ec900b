/** The relay's frames: what the backend accepts from a sandbox, however the bytes are split. */
import { describe, expect, test } from 'bun:test'
import {
  ackedBytes,
  ackFrame,
  encodeFrame,
  FrameBudget,
  frameCost,
  FrameReader,
  Kind,
  MAX_PAYLOAD,
  ProtocolError,
} from '../../src/backends/mux'

const bytes = (text: string) => new TextEncoder().encode(text)
const readable = (frames: ReturnType<FrameReader['push']>) =>
  frames.map(({ kind, id, payload }) => ({ kind, id, text: new TextDecoder().decode(payload) }))

describe('relay frames', () => {
  const stream = new Uint8Array([
    ...encodeFrame(Kind.data, 7, bytes('hello')),
    ...encodeFrame(Kind.end, 7),
    ...ackFrame(9, 65536),
    ...encodeFrame(Kind.data, 4_000_000_000, bytes('')),
    ...encodeFrame(Kind.close, 9),
  ])
  const expected = [
    { kind: Kind.data, id: 7, text: 'hello' },
    { kind: Kind.end, id: 7, text: '' },
    { kind: Kind.ack, id: 9, text: '\0\x01\0\0' },
    { kind: Kind.data, id: 4_000_000_000, text: '' },
    { kind: Kind.close, id: 9, text: '' },
  ]

  test('the same frames come out whether the bytes arrive at once or one by one', () => {
    expect(readable(new FrameReader().push(stream))).toEqual(expected)
    const reader = new FrameReader()
    const dribbled = [...stream].flatMap((byte) => reader.push(new Uint8Array([byte])))
    expect(readable(dribbled)).toEqual(expected)
    expect(ackedBytes(dribbled[2]!)).toBe(65536)
  })

  test('a payload is its own copy: reusing the chunk it came in does not change it', () => {
    const chunk = encodeFrame(Kind.data, 1, bytes('abc'))
    const [frame] = new FrameReader().push(chunk)
    chunk.fill(0)
    expect(new TextDecoder().decode(frame!.payload)).toBe('abc')
  })

  const header = (kind: number, length: number) => {
    const frame = new Uint8Array(9)
    new DataView(frame.buffer).setUint8(0, kind)
    new DataView(frame.buffer).setUint32(5, length)
    return frame
  }
  test.each([
    ['an unknown kind', header(0xff, 0), 'unknown frame kind 255'],
    ['a payload over 64 KiB', header(Kind.data, MAX_PAYLOAD + 1), 'frame payload of 65537 bytes'],
    ['a declared length of 4 GiB', header(Kind.data, 0xffffffff), 'frame payload of 4294967295 bytes'],
    ['an ack of the wrong size', header(Kind.ack, 8), 'frame kind 5 with 8 payload bytes'],
    ['an end with a payload', header(Kind.end, 1), 'frame kind 3 with 1 payload bytes'],
  ])('%s is a protocol error at its header, before any payload is awaited', (_, frame, message) => {
    expect(() => new FrameReader().push(frame)).toThrow(new ProtocolError(message))
  })
})

describe('frame budget', () => {
  test('a flood of frames is paused for as long as it overdrew, then refills at the set rate', () => {
    const budget = new FrameBudget(10_000, 0)
    expect(budget.spend(4_000, 0)).toBe(0)
    expect(budget.spend(6_000, 0)).toBe(0) // the first second's worth, at once
    expect(budget.spend(5_000, 0)).toBe(500) // 5,000 over: half a second of refill
    expect(budget.spend(0, 500)).toBe(0)
    expect(budget.spend(1, 500)).toBeCloseTo(0.1)
    expect(budget.spend(0, 60_000)).toBe(0) // an idle minute refills to one second's worth, not more
    expect(budget.spend(20_000, 60_000)).toBe(1000)
  })

  test('payload weighs in: a full frame costs 5 units, an empty one 1', () => {
    expect(frameCost({ kind: Kind.data, id: 1, payload: new Uint8Array(MAX_PAYLOAD) })).toBe(5)
    expect(frameCost({ kind: Kind.ack, id: 1, payload: new Uint8Array(4) })).toBeCloseTo(1.0002)
    expect(frameCost({ kind: Kind.end, id: 1, payload: new Uint8Array(0) })).toBe(1)
  })
})
