/** Parsing, calls and batches through the real routes, real harness and real sandbox. */
import { afterAll, describe, expect, test } from 'bun:test'
import { createApp } from '../../src/app'
import { sameJson } from '../../src/execution/compare'
import { testConfig } from '../support/config'
import { post, postEvents } from '../support/http'

const app = createApp({ config: testConfig({ EXEC_TIMEOUT_MS: '1500', EXEC_TEST_PARALLELISM: '4' }) })
afterAll(() => app.decorator.services.runner.close())

const call = (pythonCode: string, endpoint?: string, args?: Record<string, unknown>) =>
  post(app, '/api/execute-endpoint', { pythonCode, endpoint, args })

describe('parsing', () => {
  test('every decorator form, methods, parameters, source order; methods and nested functions ignored', async () => {
    const code = [
      '@endpoint',
      'def bare(a, b=1, *rest, key: int = 2, **extra): pass',
      '@endpoint()',
      'def empty(x: "list[int]"): pass',
      "@endpoint('/custom', methods=['get'])",
      'def positional(): pass',
      "@endpoint(path='/kw')",
      'def keyword(): pass',
      'def plain(): pass',
      'class C:',
      '    @endpoint',
      '    def method(self): pass',
      'def outer():',
      '    @endpoint',
      '    def inner(): pass',
    ].join('\n')
    const { status, body } = await call(code)
    expect(status).toBe(200)
    expect(body.count).toBe(4)
    expect(body.endpoints.map((e: any) => [e.name, e.endpoint, e.methods])).toEqual([
      ['bare', '/bare', ['GET']],
      ['empty', '/empty', ['GET']],
      ['positional', '/custom', ['GET']],
      ['keyword', '/kw', ['GET']],
    ])
    expect(body.endpoints[0].parameters).toEqual([
      { name: 'a', type: 'regular', required: true, defaultValue: null, annotation: null },
      { name: 'b', type: 'default', required: false, defaultValue: '1', annotation: null },
      { name: 'rest', type: 'args', required: false, defaultValue: null, annotation: null },
      { name: 'key', type: 'default', required: false, defaultValue: '2', annotation: 'int' },
      { name: 'extra', type: 'kwargs', required: false, defaultValue: null, annotation: null },
    ])
    expect(body.endpoints[1].parameters[0].annotation).toBe('"list[int]"')
    expect(body.endpoints[2].body).toBe('def positional(): pass')
  })

  test('parsing never runs the code; whitespace-only code has no endpoints', async () => {
    const listed = await call('import os\nos._exit(3)\n@endpoint\ndef f(): pass')
    expect(listed.body).toMatchObject({ success: true, count: 1 })
    expect((await call('   \n')).body).toMatchObject({ success: true, count: 0, endpoints: [] })
  })

  test('a syntax error reports the learner line', async () => {
    const { body } = await call('x = 1\n\ndef f(:\n  pass')
    expect(body).toMatchObject({ success: false, error_type: 'syntax_error', line: 3 })
  })
})

describe('calls', () => {
  const code = [
    'import json',
    '@endpoint',
    'def add(a: int, b: int = 2):',
    '    print("result: 999")',
    '    return a + b',
    '@endpoint',
    'def echo(value, tag: str = "x"):',
    '    return {"value": value, "tag": tag, "kind": type(value).__name__}',
    '@endpoint',
    'def shapes(items: list, flag: bool):',
    '    return {"tuple": (1, 2), "set": {3}, "float": 1.5, "none": None, "flag": flag, "items": items, 4: "int key"}',
    '@endpoint',
    'def fails(n: int):',
    '    x = 1',
    '    raise ValueError(f"bad {n}")',
  ].join('\n')

  test('strings are converted by annotation; prints cannot forge the result', async () => {
    const { body } = await call(code, '/add', { a: '40', b: 2 })
    expect(body).toMatchObject({
      success: true,
      result: 42,
      endpoint: '/add',
      args_used: { a: 40, b: 2 },
      execution_method: 'local_sandbox',
      stdout: 'result: 999\n',
      stderr: '',
    })
    expect(body.duration_ms).toBeGreaterThan(0)
  })

  test('every spelling of an annotation that takes text keeps the string; other types convert', async () => {
    const kinds = [
      'from typing import Optional, Union, Any',
      'import typing',
      '@endpoint',
      'def kinds(a: Optional[str], b: "str | None", c: Union[int, str], d: typing.Optional[str], e: Any, f: "str",',
      '          g: Optional[int], h: list[str], i: int | None):',
      '    return [type(v).__name__ for v in (a, b, c, d, e, f, g, h, i)]',
    ].join('\n')
    const args = { a: '1', b: '2', c: '3', d: '4', e: '5', f: '6', g: '7', h: '["x"]', i: '9' }
    const { body } = await call(kinds, '/kinds', args)
    expect(body.result).toEqual(['str', 'str', 'str', 'str', 'str', 'str', 'int', 'list', 'int'])
  })

  test('found by function name too; str and unannotated params keep strings; nothing is evaluated', async () => {
    const evil = "__import__('os').system('echo pwned')"
    const { body } = await call(code, 'echo', { value: '[1, 2]', tag: '5' })
    expect(body.result).toEqual({ value: '[1, 2]', tag: '5', kind: 'str' })
    const converted = await call(code, '/add', { a: evil, b: 1 })
    expect(converted.body).toMatchObject({ success: false, error_type: 'runtime_error' })
    expect(converted.body.error).toContain('TypeError')
  })

  test('JSON fidelity: tuples become lists, other objects their repr, literals converted', async () => {
    const { body } = await call(code, '/shapes', { items: '(1, "a")', flag: 'true' })
    expect(body.result).toEqual({
      tuple: [1, 2],
      set: '{3}',
      float: 1.5,
      none: null,
      flag: true,
      items: [1, 'a'],
      '4': 'int key',
    })
  })

  test('integers too large for JSON readers arrive as text, in calls and in batches', async () => {
    const big = '@endpoint\ndef big(digits: int):\n    return [10 ** digits, -(10 ** digits), 2 ** 53]'
    expect((await call(big, '/big', { digits: 400 })).body.result).toEqual([
      `1${'0'.repeat(400)}`,
      `-1${'0'.repeat(400)}`,
      2 ** 53,
    ])
    expect((await call(big, '/big', { digits: 5000 })).body.result).toEqual([
      '<integer of 16610 bits>',
      '<integer of 16610 bits>',
      2 ** 53,
    ])
    const { body } = await post(app, '/api/execute-test-cases', {
      backendCode: big,
      testCases: [{ name: 'b', endpoint: '/big', input: { digits: 5000 }, expected: 1 }],
    })
    expect(body.results[0]).toMatchObject({
      status: 'fail',
      actual: ['<integer of 16610 bits>', '<integer of 16610 bits>', 2 ** 53],
    })
  })

  test('exceptions carry the learner message and line', async () => {
    const { body } = await call(code, '/fails', { n: 7 })
    expect(body).toMatchObject({ success: false, error_type: 'runtime_error', line: 15 })
    expect(body.error).toBe('ValueError: bad 7 (line 15)')
  })

  test('unknown endpoint lists the available paths', async () => {
    const { status, body } = await call(code, '/nope')
    expect(status).toBe(200)
    expect(body).toMatchObject({ success: false, error_type: 'endpoint_not_found' })
    expect(body.error).toContain('/add, /echo, /shapes, /fails')
  })

  test('writing fake results to stdout, stderr or the result channel itself changes nothing', async () => {
    const forge = [
      'import os, sys',
      '@endpoint',
      'def f():',
      '    print(\'{"type": "result", "value": "forged"}\')',
      '    sys.stderr.write(\'{"type": "result", "value": "forged"}\\n\')',
      '    os.write(3, b\'{"type": "result", "value": "forged"}\\n{"type": "res\')',
      '    return "real"',
    ].join('\n')
    expect((await call(forge, '/f')).body).toMatchObject({ success: true, result: 'real' })
  })

  test('threads and exit hooks left behind cannot write a result after the report, nor hold the answer', async () => {
    const forged = `os.write(3, b'\\n{"type": "result", "value": "forged", "endpoint": "/f", "args_used": {}, "stdout": "", "stderr": ""}\\n')`
    const late = [
      'import atexit, os, threading, time',
      `atexit.register(lambda: ${forged})`,
      '@endpoint',
      'def f():',
      `    threading.Thread(target=lambda: (time.sleep(2), ${forged})).start()`,
      '    return "real"',
    ].join('\n')
    expect((await call(late, '/f')).body).toMatchObject({ success: true, result: 'real' })
  })

  test("the learner's own endpoint decorator is used", async () => {
    const own = 'def endpoint(f):\n    return lambda **kw: "wrapped"\n@endpoint\ndef f():\n    return "raw"'
    expect((await call(own, '/f')).body.result).toBe('wrapped')
  })
})

describe('test cases', () => {
  const code = [
    'import os, time',
    'count = 0',
    '@endpoint',
    'def counter():',
    '    global count',
    '    count += 1',
    '    return count',
    "@endpoint('/double')",
    'def double(x: int):',
    '    return x * 2',
    '@endpoint',
    'def hang():',
    '    while True: pass',
    '@endpoint',
    'def crash():',
    '    os._exit(9)',
    '@endpoint',
    'def boom():',
    '    return 1 / 0',
  ].join('\n')

  test('pass, fail, error and skip, fresh state per case, neighbours of a hang and a crash unaffected', async () => {
    const testCases = [
      { name: 'c1', metadata: { type: 'endpoint', endpoint: '/counter', input: {}, expected: 1 } },
      { name: 'hang', endpoint: '/hang', input: {}, expected: null },
      { name: 'c2', endpoint: '/counter', input: {}, expected: 1, title: 'Backend: x', public: true },
      { name: 'crash', endpoint: '/crash', input: {}, expected: null },
      { name: 'double', endpoint: '/double', input: { x: '21' }, expected: 42.0 },
      { name: 'wrong', endpoint: '/double', input: { x: 2 }, expected: 5 },
      { name: 'boom', endpoint: '/boom', input: {}, expected: 1 },
      { name: 'ui', metadata: { type: 'frontend_interactive' } },
      { name: 'judge-like' },
      { name: 'c3', endpoint: 'counter', expected: 1 },
    ]
    const { status, body } = await post(app, '/api/execute-test-cases', { testCases, backendCode: code })
    expect(status).toBe(200)
    const byName = Object.fromEntries(body.results.map((r: any) => [r.testName, r]))
    expect(body.results.map((r: any) => r.testName)).toEqual(testCases.map((t) => t.name))
    expect(body.results.map((r: any) => r.status)).toEqual([
      'pass',
      'error',
      'pass',
      'error',
      'pass',
      'fail',
      'error',
      'skip',
      'skip',
      'pass',
    ])
    expect(byName.hang.error_type).toBe('timeout')
    expect(byName.crash.message).toContain('exited with code 9')
    expect(byName.wrong).toMatchObject({ expected: 5, actual: 4, message: 'Expected 5, got 4' })
    expect(byName.boom.message).toContain('ZeroDivisionError')
    expect(byName.ui.message).toContain('frontend_interactive')
    expect(body.summary).toEqual({ total: 10, passed: 4, failed: 1, errors: 3, skipped: 2 })
  })

  test('a case message written by learner code with a made-up index changes no other case', async () => {
    const forge = (index: string) => `    os.write(3, b'\\n{"type": "case", "index": ${index}, "value": 7}\\n')`
    const backendCode = [
      'import os',
      '@endpoint',
      'def a():',
      forge('"constructor"'),
      forge('99'),
      forge('-1'),
      '    return 1',
      '@endpoint',
      'def b():',
      '    return 2',
    ].join('\n')
    const testCases = [
      { name: 'a', endpoint: '/a', expected: 1 },
      { name: 'b', endpoint: '/b', expected: 2 },
    ]
    const { body } = await post(app, '/api/execute-test-cases', { backendCode, testCases })
    expect(body.results.map((r: any) => r.status)).toEqual(['pass', 'pass'])
  })

  test('a module that fails to load makes every endpoint case an error', async () => {
    const { body } = await post(app, '/api/execute-test-cases', {
      backendCode: 'raise RuntimeError("no")\n@endpoint\ndef f(): return 1',
      testCases: [
        { name: 'a', endpoint: '/f', expected: 1 },
        { name: 'b', endpoint: '/f', expected: 1 },
      ],
    })
    expect(body.summary).toEqual({ total: 2, passed: 0, failed: 0, errors: 2, skipped: 0 })
    expect(body.results[0].message).toContain('RuntimeError: no (line 1)')
  })

  test('progress as server-sent events: one per case, then the summary', async () => {
    const { headers, text } = await postEvents(app, '/api/execute-test-cases', {
      backendCode: code,
      testCases: [
        { name: 'a', endpoint: '/double', input: { x: 1 }, expected: 2 },
        { name: 'ui', metadata: { type: 'judge' } },
      ],
    })
    expect(headers.get('content-type')).toContain('text/event-stream')
    const events = text
      .trim()
      .split('\n\n')
      .map((block) => block.split('\n')[0])
    expect(events.sort()).toEqual(['event: result', 'event: result', 'event: summary'])
  })
})

describe('comparison', () => {
  test.each([
    [1, 1.0, true],
    [{ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }, true],
    [true, 1, false],
    [0, false, false],
    [null, null, true],
    [[1], [1, 2], false],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    ['1', 1, false],
  ])('%j vs %j → %p', (a, b, same) => expect(sameJson(a, b)).toBe(same))
})

describe('validation', () => {
  test('valid code, and a syntax error at the learner line and column', async () => {
    expect((await post(app, '/api/validate-python', { pythonCode: 'x = 1\n' })).body).toEqual({
      success: true,
      message: 'Python syntax is valid',
    })
    const { body } = await post(app, '/api/validate-python', { pythonCode: 'x = 1\ny = (\n' })
    expect(body).toMatchObject({ success: false, line: 2 })
    expect(body.error).toStartWith('Syntax error at line 2')
    const outside = await post(app, '/api/validate-python', { pythonCode: 'x = 1\nreturn 2\n' })
    expect(outside.body).toMatchObject({ success: false, line: 2 })
  })

  test('missing or empty code is 400, too much code 413', async () => {
    for (const [path, field] of [
      ['/api/execute-endpoint', 'pythonCode'],
      ['/api/validate-python', 'pythonCode'],
      ['/api/execute-test-cases', 'backendCode'],
    ] as const) {
      const extra = path.includes('test-cases') ? { testCases: [] } : {}
      expect((await post(app, path, { ...extra })).body).toMatchObject({
        success: false,
        error_type: 'validation_error',
      })
      const empty = await post(app, path, { ...extra, [field]: '' })
      expect(empty.status).toBe(400)
    }
    const small = createApp({ config: testConfig({ MAX_CODE_BYTES: '10', EXEC_POOL_SIZE: '0' }) })
    const { status, body } = await post(small, '/api/execute-endpoint', { pythonCode: 'x = 12345678901' })
    expect(status).toBe(413)
    expect(body.error_type).toBe('payload_too_large')
    small.decorator.services.runner.close()
  })

  test('a full queue answers 503 queue_full with Retry-After', async () => {
    const busy = createApp({
      config: testConfig({
        EXEC_CONCURRENCY: '1',
        EXEC_QUEUE_LENGTH: '0',
        EXEC_POOL_SIZE: '0',
        EXEC_TIMEOUT_MS: '500',
      }),
    })
    const hang = post(busy, '/api/execute-endpoint', {
      pythonCode: '@endpoint\ndef h():\n    while True: pass',
      endpoint: '/h',
    })
    const refused = await post(busy, '/api/validate-python', { pythonCode: 'x = 1' })
    expect(refused.status).toBe(503)
    expect(refused.body.error_type).toBe('queue_full')
    expect(refused.headers.get('retry-after')).toBe('1')
    const batch = {
      backendCode: '@endpoint\ndef a():\n    return 1',
      testCases: [{ name: 'a', endpoint: '/a', expected: 1 }],
    }
    const streamed = await post(busy, '/api/execute-test-cases', batch, { accept: 'text/event-stream' })
    expect(streamed.status).toBe(503) // a status, not an error event inside a 200 stream
    expect(streamed.body.error_type).toBe('queue_full')
    expect(streamed.headers.get('retry-after')).toBe('1')
    expect((await hang).body).toMatchObject({ success: false, error_type: 'timeout' })
    busy.decorator.services.runner.close()
  })
})
