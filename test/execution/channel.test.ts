/**
 * Everything a sandbox sends back is bounded, even when the whole sandbox is hostile. The harness here is replaced
 * by a compromised one that runs the "learner code" with the result channel (fd 3) in its hands and reports
 * nothing of its own, so each attack below is what any code in a sandbox could write, whatever the real harness
 * does. Real routes, real sandbox, real pipes. A list of attacks and the outcome the server must give.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { closeServices, createApp } from '../../src/app'
import { createLocalRunner } from '../../src/execution/local-runner'
import { withinDepth } from '../../src/execution/messages'
import { createLogger } from '../../src/logging'
import { createSandbox } from '../../src/sandbox'
import { testConfig } from '../support/config'
import { get, post, postEvents } from '../support/http'

/**
 * Runs the job's code as it is, fd 3 open, then leaves; nothing it does is corrected by a harness. (A batch's job
 * comes after a line with its length, its inputs after it: src/execution/local-runner.ts, jobInput.)
 */
const COMPROMISED = [
  'import json, os, sys',
  'data = sys.stdin.buffer.read()',
  'if data[:1] != b"{":',
  '    size, _, rest = data.partition(b"\\n")',
  '    data = rest[: int(size)]',
  'job = json.loads(data)',
  'exec(job["code"], {"os": os, "job": job})',
  'os._exit(0)',
].join('\n')

const config = testConfig({
  EXEC_TIMEOUT_MS: '3000',
  EXEC_BATCH_TIMEOUT_MS: '5000',
  EXEC_RESULT_BYTES: '65536',
  EXEC_OUTPUT_BYTES: '65536',
})
const logger = createLogger('silent')
const sandbox = createSandbox({ config, logger })
const app = createApp({
  config,
  logger,
  sandbox,
  runner: createLocalRunner({ config, logger, sandbox, harness: COMPROMISED }),
})
afterAll(() => closeServices(app.decorator.services))

const write = (bytes: string) => `os.write(3, ${bytes})`
/** A call's report line around `value`, a Python bytes expression. */
const result = (value: string) =>
  `b'\\n{"type": "result", "value": ' + ${value} + b', "endpoint": "/f", "args_used": {}, "stdout": "", "stderr": ""}\\n'`
const call = async (pythonCode: string) => {
  const reply = await post(app, '/api/execute-endpoint', { pythonCode, endpoint: '/f' })
  expect(reply.status).toBe(200) // whatever came out of the sandbox, the request was served
  return reply.body
}

describe('the result channel', () => {
  test('an honest report still works through the compromised harness', async () => {
    expect(await call(write(result(`b'"fine"'`)))).toMatchObject({ success: true, result: 'fine' })
  })

  test('200,000 fake case reports for one case: one result event, the run stopped as a flood', async () => {
    const flood = `line = b'\\n{"type": "case", "index": 0, "value": 1}\\n' * 1000\nfor _ in range(200):\n    ${write('line')}`
    const expected = 'x'.repeat(8192) // each extra event used to echo it to a client that did not read
    const { events: received } = await postEvents(app, '/api/execute-test-cases', {
      backendCode: flood,
      testCases: [{ name: 'only', endpoint: '/f', expected }],
    })
    expect(received.map(({ event }) => event)).toEqual(['result', 'summary'])
    expect(received[0]!.data).toMatchObject({ testName: 'only', status: 'fail', actual: 1 }) // the first report counts
  })

  test('later reports of a case change nothing', async () => {
    const report = (value: number) => `b'\\n{"type": "case", "index": 0, "value": ${value}}\\n'`
    const code = [write(report(1)), write(report(2)), write(`b'{"type": "done"}\\n'`)].join('\n')
    const { body } = await post(app, '/api/execute-test-cases', {
      backendCode: code,
      testCases: [{ name: 'a', endpoint: '/f', expected: 2 }],
    })
    expect(body.results).toMatchObject([{ status: 'fail', actual: 1 }])
  })

  test('63 MiB without a newline: output_limit once the line is longer than any report, never held', async () => {
    const reply = await call(`chunk = b"x" * (1 << 20)\nfor _ in range(63):\n    ${write('chunk')}`)
    expect(reply).toMatchObject({ success: false, error_type: 'output_limit' })
    expect(reply.error).toContain('a report was longer than')
  })

  test('more bytes than EXEC_CHANNEL_BYTES in all (here: empty lines) stops the run as output_limit', async () => {
    const reply = await call(write(`b"\\n" * ${config.EXEC_CHANNEL_BYTES + 1}`))
    expect(reply).toMatchObject({ success: false, error_type: 'output_limit' })
    expect(reply.error).toContain(`more than ${config.EXEC_CHANNEL_BYTES} bytes`)
  })

  test('a result above EXEC_RESULT_BYTES is output_limit for that call', async () => {
    const reply = await call(write(result(`b'"' + b"z" * 70000 + b'"'`)))
    expect(reply).toMatchObject({ success: false, error_type: 'output_limit' })
    expect(reply.error).toContain('limit is 65536 bytes')
  })

  test('a result nested 100,000 deep is never parsed: no 500, no stack', async () => {
    const deep = `b'\\n{"type": "result", "value": ' + b"[" * 100000 + b"]" * 100000 + b', "endpoint": "/f", "args_used": {}}\\n'`
    const reply = await call(write(deep))
    expect(reply).toMatchObject({ success: false, error_type: 'runtime_error' })
    expect((await get(app, '/health')).status).toBe(200)
  })

  test('a report of a made-up shape is ignored (a forged error type cannot break the answer)', async () => {
    const forged = `b'\\n{"type": "result", "value": 1, "endpoint": {"x": 1}, "args_used": {}}\\n{"type": "error", "error_type": {"a": 1}, "message": 5}\\n'`
    expect(await call(write(forged))).toMatchObject({ success: false, error_type: 'runtime_error' })
  })
})

describe('the depth check before parsing', () => {
  const bytes = (text: string) => new TextEncoder().encode(text)
  test.each([
    ['[[1]]', 2, true],
    ['[[[1]]]', 2, false],
    ['{"a": "[[[[[[", "b": [1]}', 2, true], // brackets inside strings do not count
    ['{"a": "x\\"[[[[", "b": 1}', 1, true], // nor after an escaped quote
    ['{"a": "x\\\\", "b": [[[1]]]}', 3, false], // an escaped backslash ends the string
  ] as const)('%s within %d: %p', (text, limit, within) => {
    expect(withinDepth(bytes(text), limit)).toBe(within)
  })
})
