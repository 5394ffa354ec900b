/**
 * The shapes of harness messages, and a parser for one line that is safe on hostile input: the nesting depth is
 * checked on the raw bytes before JSON.parse sees them, and only the shapes the harness writes are accepted.
 */
import { t } from 'elysia'
import { Value } from '@sinclair/typebox/value'
import { Endpoint } from './model'
import type { HarnessMessage, Job } from './runner'
import { withinDepth } from '../http/json-depth'

export { withinDepth }

/**
 * The harness nests a result at most ~100 deep (to_json in src/python/core.py) inside a message object; JSON.parse
 * and every later recursion (comparison, serialisation) stay far from the stack limit at this depth.
 */
export const MAX_DEPTH = 128

const ErrorType = t.String({ pattern: '^[a-z_]{1,40}$' })
const Line = t.Optional(t.Union([t.Integer(), t.Null()]))
const Output = { stdout: t.Optional(t.String()), stderr: t.Optional(t.String()) }
const Failure = {
  error_type: ErrorType,
  message: t.String(),
  line: Line,
  offset: Line,
  traceback: t.Optional(t.String()),
  paths: t.Optional(t.Array(t.String())),
  ...Output,
}
const Json = t.Unknown()

/** Every message shape the harness writes; anything else on the channel is dropped. */
const Message = t.Union([
  t.Object({ type: t.Literal('endpoints'), endpoints: t.Array(Endpoint) }),
  t.Object({ type: t.Literal('valid') }),
  t.Object({ type: t.Literal('done') }),
  t.Object({ type: t.Literal('result'), value: Json, endpoint: t.String(), args_used: Json, ...Output }),
  t.Object({ type: t.Literal('error'), ...Failure }),
  t.Object({
    type: t.Literal('case'),
    index: t.Integer({ minimum: 0 }),
    duration_ms: t.Optional(t.Number()),
    error_type: t.Optional(ErrorType),
    message: t.Optional(t.String()),
    value: t.Optional(Json),
    ...Output,
  }),
])

/** The message types that end each operation (the harness writes one of them last). */
export const FINAL: Record<Job['op'], string[]> = {
  parse: ['endpoints', 'error'],
  validate: ['valid', 'error'],
  call: ['result', 'error'],
  tests: ['done', 'error'],
}

const decoder = new TextDecoder()

/** One line as a harness message, or undefined: not JSON, too deep, or not a shape the harness writes. */
export function parseLine(bytes: Uint8Array, depth = MAX_DEPTH): HarnessMessage | undefined {
  if (!withinDepth(bytes, depth)) return undefined
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch {
    return undefined
  }
  return Value.Check(Message, value) ? (value as HarnessMessage) : undefined
}

/**
 * Splits newline-delimited JSON messages already in memory (a remote run's output); a line that is not a harness
 * message, or nests too deep to parse safely, is ignored (never trusted as a result). Local runs read their
 * channel through createChannel, which bounds it while it arrives.
 */
export function parseMessages(text: string): HarnessMessage[] {
  const encoder = new TextEncoder()
  return text.split('\n').flatMap((line) => (line.trim() ? (parseLine(encoder.encode(line)) ?? []) : []))
}
