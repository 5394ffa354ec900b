/**
 * The result channel of a sandbox (fd 3, where the harness reports): hostile input, since anything running in the
 * sandbox may write there. One reader bounds it all: bytes and lines for the whole channel, bytes and nesting per
 * line, bytes per result, and exactly one report per test case. The harness writes one line per case and one
 * final line, so the budgets are generous for it and tight for a flood. A run past a budget is stopped by the
 * caller (`violation`); a malformed line is ignored.
 *
 * Lines are found with one forward search per chunk (a growing buffer is never split again) and a line is only
 * parsed once its nesting depth is known to be small, so neither a huge line nor a deep one can stall the event
 * loop or overflow the stack. The reader waits for `onMessage` before it reads on: a consumer that does not keep
 * up (a client that does not read its event stream) stops the reading, the pipe fills, and the sandbox blocks
 * until its time limit ends it, instead of the server buffering without bound.
 *
 * @example
 * const channel = createChannel(job, channelLimits(config, job), (message) => stream.send(message))
 * for await (const chunk of Bun.file(fd).stream()) {
 *   await channel.push(chunk)
 *   if (channel.violation) break // stop the run: it said more than any harness would
 * }
 */
import { FINAL, MAX_DEPTH, parseLine } from './messages'
import type { HarnessMessage, Job } from './runner'

/** The settings this module reads (src/config.ts documents each). */
export interface ChannelSettings {
  EXEC_CHANNEL_BYTES: number
  EXEC_OUTPUT_BYTES: number
  EXEC_RESULT_BYTES: number
}

export interface ChannelLimits {
  /** Bytes the whole channel may carry. */
  totalBytes: number
  /** Longest line; a longer one stops the run before it is held in memory. */
  lineBytes: number
  /** Largest JSON of one result (a call's or a case's value). */
  resultBytes: number
  /** Deepest nesting of arrays and objects in one line. */
  depth: number
  /** Non-blank lines, accepted or not, before the run is stopped. */
  lines: number
}

/** Lines beyond the expected reports (stray writes) tolerated before a run counts as flooding its channel. */
export const EXTRA_LINES = 16

/**
 * The longest line the harness writes (it cuts captured output to fit, src/python/harness-common.py): one result
 * plus a case's captured stdout and stderr, and a few small fields; never more than the whole channel.
 */
export function reportLineBytes(config: ChannelSettings): number {
  return Math.min(config.EXEC_RESULT_BYTES + 2 * config.EXEC_OUTPUT_BYTES + 64 * 1024, config.EXEC_CHANNEL_BYTES)
}

export function channelLimits(config: ChannelSettings, job: Job): ChannelLimits {
  const expected = job.op === 'tests' ? job.cases.length + 1 : 1
  return {
    totalBytes: config.EXEC_CHANNEL_BYTES,
    lineBytes: reportLineBytes(config),
    resultBytes: config.EXEC_RESULT_BYTES,
    depth: MAX_DEPTH,
    lines: expected + EXTRA_LINES,
  }
}

/** A result larger than allowed becomes that call's or case's output_limit failure (its output is kept). */
function capResult(message: HarnessMessage, resultBytes: number): HarnessMessage {
  if (!('value' in message)) return message
  const size = Buffer.byteLength(JSON.stringify(message.value) ?? '')
  if (size <= resultBytes) return message
  const { value: _, endpoint: __, args_used: ___, ...rest } = message
  return {
    ...rest,
    type: message.type === 'case' ? 'case' : 'error',
    error_type: 'output_limit',
    message: `Output limit exceeded: the result is ${size} bytes; the limit is ${resultBytes} bytes`,
  }
}

export interface Channel {
  /** Takes the next bytes; resolves once every message in them was handed to `onMessage` (and it resolved). */
  push(chunk: Uint8Array): Promise<void>
  /** Stops handing out messages; a pending push returns at once (the run is being ended). */
  halt(): void
  /** The accepted messages in arrival order: at most one per case, then the final ones. */
  readonly messages: HarnessMessage[]
  /** Set once a budget is exhausted (bytes, lines, or one line's length): the run must be stopped, with this message. */
  readonly violation: string | undefined
}

export function createChannel(
  job: Job,
  limits: ChannelLimits,
  onMessage?: (message: HarnessMessage) => void | Promise<void>,
): Channel {
  const cases = job.op === 'tests' ? job.cases.length : 0
  const reported = new Uint8Array(cases)
  const finals = FINAL[job.op]
  const messages: HarnessMessage[] = []
  const halted = Promise.withResolvers<void>()
  let stop = false
  let bytes = 0
  let lines = 0
  let violation: string | undefined
  // The line being read: its pieces so far and their size.
  let parts: Uint8Array[] = []
  let size = 0

  /** The message to pass on, or undefined for a line that is not accepted. */
  function accept(line: Uint8Array): HarnessMessage | undefined {
    const message = parseLine(line, limits.depth)
    if (!message) return undefined
    if (message.type === 'case') {
      if (message.index >= cases || reported[message.index]) return undefined // one report per case: the first
      reported[message.index] = 1
    } else if (!finals.includes(message.type)) return undefined
    return capResult(message, limits.resultBytes)
  }

  async function push(chunk: Uint8Array): Promise<void> {
    if (stop || violation) return
    bytes += chunk.byteLength
    if (bytes > limits.totalBytes) {
      violation = `Output limit exceeded: the program reported more than ${limits.totalBytes} bytes of results`
      return
    }
    let start = 0
    while (start < chunk.byteLength && !stop) {
      const newline = chunk.indexOf(0x0a, start)
      const end = newline === -1 ? chunk.byteLength : newline
      size += end - start
      if (size > limits.lineBytes) {
        // No report of the harness is this long (its results are capped): stop at once rather than read on.
        violation = `Output limit exceeded: a report was longer than ${limits.lineBytes} bytes`
        return
      }
      // A piece that must outlive this chunk is copied; one that completes a line in place is not.
      if (end > start) parts.push(newline === -1 ? chunk.slice(start, end) : chunk.subarray(start, end))
      if (newline === -1) return
      start = newline + 1
      const line = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
      parts = []
      if (size === 0) continue // the harness writes a newline before each message
      size = 0
      if (++lines > limits.lines) {
        violation = `Output limit exceeded: the program sent more than ${limits.lines} reports; the run was stopped`
        return
      }
      const message = accept(line)
      if (!message) continue
      messages.push(message)
      const pending = onMessage?.(message)
      if (pending) await Promise.race([pending, halted.promise])
    }
  }

  return {
    push,
    halt() {
      stop = true
      halted.resolve()
    },
    messages,
    get violation() {
      return violation
    },
  }
}
