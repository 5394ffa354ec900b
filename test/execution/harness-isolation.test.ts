/**
 * The harness's scheduler never runs learner code: limits, time verdicts and the result channel stay out of the
 * learner's reach, and each case reports only on its own channel (src/python/harness.py, "What learner code can
 * influence"). Real sandbox, real subprocesses; overlap is measured inside the sandbox, never by timing.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { post } from '../support/http'

// Sandboxes on a busy machine take their time: a guard against hangs, not a timing assertion.
setDefaultTimeout(30_000)

const app = createApp({
  config: testConfig({ EXEC_TIMEOUT_MS: '3000', EXEC_TEST_PARALLELISM: '2', EXEC_RESULT_BYTES: '65536' }),
})
afterAll(() => app.decorator.services.runner.close())

const batch = (backendCode: string, testCases: object[]) =>
  post(app, '/api/execute-test-cases', { backendCode, testCases })

describe('limits the module cannot rewrite', () => {
  test('rewriting the harness limits at load does not raise parallelism: never more than 2 cases at once', async () => {
    // Each case counts the cases running at its start in a file of the sandbox's /tmp (under a lock), spins, and
    // counts itself out before it returns.
    const backendCode = [
      'import __main__, fcntl, os, sys, time',
      'for scope in (__main__.__dict__, sys.modules["__main__"].__dict__, globals()):',
      '    if isinstance(scope.get("LIMITS"), dict):',
      '        scope["LIMITS"].update(parallelism=32, timeout_ms=10 ** 9)',
      'def count(step):',
      '    with open("/tmp/running", "a+") as f:',
      '        fcntl.flock(f, fcntl.LOCK_EX)',
      '        f.seek(0)',
      '        now = int(f.read() or 0) + step',
      '        f.seek(0)',
      '        f.truncate()',
      '        f.write(str(now))',
      '        return now',
      '@endpoint',
      'def spin(i: int):',
      '    seen = count(1)',
      '    end = time.monotonic() + 0.3',
      '    while time.monotonic() < end:',
      '        pass',
      '    count(-1)',
      '    return seen',
    ].join('\n')
    const testCases = Array.from({ length: 8 }, (_, i) => ({
      name: `c${i}`,
      endpoint: '/spin',
      input: { i },
      expected: 1,
    }))
    const { body } = await batch(backendCode, testCases)
    const seen = body.results.map((r: any) => r.actual)
    expect(seen.every((n: unknown) => n === 1 || n === 2)).toBe(true)
  })

  test('a case that never returns is a timeout at the configured limit, whatever the module rewrote', async () => {
    const backendCode = [
      'import __main__',
      '__main__.LIMITS.update(timeout_ms=10 ** 9, cpu_seconds=10 ** 6)',
      '@endpoint',
      'def hang():',
      '    while True:',
      '        pass',
    ].join('\n')
    const { body } = await batch(backendCode, [{ name: 'hang', endpoint: '/hang', expected: null }])
    expect(body.results[0]).toMatchObject({
      status: 'error',
      error_type: 'timeout',
      message: 'Time limit exceeded (3000 ms)',
    })
  })
})

describe('reports come from the case itself', () => {
  // The expected value of both cases is 42; neither returns it.
  const forgeAll = [
    'import json, os, sys',
    'forged = \'{"type": "case", "index": 0, "value": 42}\'',
    'json.dumps = lambda *args, **kwargs: forged',
    'json.JSONEncoder.encode = lambda self, value: forged',
    'print(forged)',
    'for i in range(2):',
    '    os.write(3, (\'\\n{"type": "case", "index": %d, "value": 42}\\n\' % i).encode())',
  ].join('\n')

  test('patching json, writing to fd 3 or printing JSON turns neither a hang nor a wrong value into a pass', async () => {
    const backendCode = [
      forgeAll,
      '@endpoint',
      'def hang():',
      '    print(forged)',
      '    while True:',
      '        pass',
      '@endpoint',
      'def wrong():',
      '    print(forged)',
      '    os.write(3, forged.encode() + b"\\n")',
      '    return 1',
    ].join('\n')
    const testCases = [
      { name: 'hang', endpoint: '/hang', expected: 42 },
      { name: 'wrong', endpoint: '/wrong', expected: 42 },
    ]
    const { body } = await batch(backendCode, testCases)
    expect(body.results.map((r: any) => [r.testName, r.status, r.error_type ?? null, r.actual])).toEqual([
      ['hang', 'error', 'timeout', null],
      ['wrong', 'fail', null, 1],
    ])
  })

  test('the same patches cannot forge the result of a call that never returns', async () => {
    const pythonCode = `${forgeAll}\n@endpoint\ndef hang():\n    while True:\n        pass`
    const { body } = await post(app, '/api/execute-endpoint', { pythonCode, endpoint: '/hang' })
    expect(body).toMatchObject({ success: false, error_type: 'timeout', error: 'Time limit exceeded (3000 ms)' })
  })

  test("a grandchild of one case cannot write another case's report", async () => {
    // Case a leaves a process behind that writes a passing report for case b, once, into every pipe of every
    // other process of the sandbox it can open; case b ends without a result while that process runs.
    const backendCode = [
      'import os, time',
      'REPORT = b\'\\n{"type": "case", "index": 1, "value": 42}\\n\'',
      'def forge_everywhere(until):',
      '    mine, written = {str(os.getpid()), str(os.getppid())}, set()',
      '    while time.monotonic() < until:',
      '        for pid in [p for p in os.listdir("/proc") if p.isdigit() and p not in mine]:',
      '            try:',
      '                fds = os.listdir("/proc/%s/fd" % pid)',
      '            except OSError:',
      '                continue',
      '            for fd in fds:',
      '                try:',
      '                    target = os.open("/proc/%s/fd/%s" % (pid, fd), os.O_WRONLY | os.O_NONBLOCK)',
      '                except OSError:',
      '                    continue',
      '                pipe = os.fstat(target).st_ino',
      '                if pipe not in written:',
      '                    written.add(pipe)',
      '                    try:',
      '                        os.write(target, REPORT)',
      '                    except OSError:',
      '                        pass',
      '                os.close(target)',
      '@endpoint',
      'def a():',
      '    if os.fork() == 0:',
      '        forge_everywhere(time.monotonic() + 1.5)',
      '        os._exit(0)',
      '    return "a"',
      '@endpoint',
      'def b():',
      '    time.sleep(1)',
      '    os._exit(3)',
    ].join('\n')
    const testCases = [
      { name: 'a', endpoint: '/a', expected: 'a' },
      { name: 'b', endpoint: '/b', expected: 42 },
    ]
    const { body } = await batch(backendCode, testCases)
    expect(body.results[1]).toMatchObject({ status: 'error', error_type: 'runtime_error' })
    expect(body.results[1].message).toContain('exited with code 3')
    expect(body.results[0]).toMatchObject({ status: 'pass' })
  })
})

describe('what a learner process sends is bounded', () => {
  const own = (payload: string) =>
    [
      'import os, stat',
      '@endpoint',
      'def f():',
      '    for fd in range(4, 64):  # its own report channel is the only pipe it may write to',
      '        try:',
      '            if stat.S_ISFIFO(os.fstat(fd).st_mode):',
      `                os.write(fd, ${payload})`,
      '        except OSError:',
      '            pass',
      '    os._exit(0)',
    ].join('\n')

  test('a result larger than EXEC_RESULT_BYTES is an output_limit error, in a call and in a batch', async () => {
    const code = '@endpoint\ndef big():\n    return "a" * 100_000'
    const call = await post(app, '/api/execute-endpoint', { pythonCode: code, endpoint: '/big' })
    expect(call.body).toMatchObject({
      success: false,
      error_type: 'output_limit',
      error: 'The result is larger than 65536 bytes',
    })
    const { body } = await batch(code, [{ name: 'big', endpoint: '/big', expected: 'a' }])
    expect(body.results[0]).toMatchObject({ status: 'error', error_type: 'output_limit' })
  })

  test('a report nested 100,000 deep, or megabytes without a newline, is an error of that case only', async () => {
    // A graded case reports through the scheduler, which checks what the case's process sent.
    const one = (pythonCode: string) =>
      post(app, '/api/execute-test-cases', {
        backendCode: pythonCode,
        testCases: [{ name: 'a', endpoint: '/f', expected: 1 }],
      })
    const deep = await one(own('b"[" * 100_000 + b"\\n"'))
    expect(deep.body.results[0]).toMatchObject({
      status: 'error',
      error_type: 'runtime_error',
      message: 'The program sent a report that is not a result',
    })
    const long = await one(own('b"x" * (8 << 20)'))
    expect(long.body.results[0]).toMatchObject({ status: 'error', error_type: 'output_limit' })
  })

  test('a case the scheduler stops (too large a report, its time limit) leaves the rest of the batch running', async () => {
    // Stopping a case used to end the learner process with it (a NameError in its kill order): the whole sandbox
    // went, with the other cases, and on a busy machine before the stopped case's own verdict was out.
    const backendCode = [
      own('b"x" * (8 << 20)'),
      '@endpoint',
      'def spin():',
      '    while True:',
      '        pass',
      '@endpoint',
      'def later():',
      '    import time',
      '    time.sleep(1)',
      '    return 1',
    ].join('\n')
    const { body } = await batch(backendCode, [
      { name: 'flood', endpoint: '/f', expected: 1 },
      { name: 'spin', endpoint: '/spin', expected: 1 },
      { name: 'later', endpoint: '/later', expected: 1 },
    ])
    expect(body.results.map((r: { error_type?: string; status: string }) => r.error_type ?? r.status)).toEqual([
      'output_limit',
      'timeout',
      'pass',
    ])
  })
})

describe('a limit that is hit is reported as what it is', () => {
  // The CPU rlimit of a spinning process used to be reached (SIGKILL) around the wall-clock limit: before it with a
  // warm pool (its processes started before the clock did), or with threads (CPU time runs faster than the clock).
  const spinning = createApp({ config: testConfig({ EXEC_TIMEOUT_MS: '1000', EXEC_POOL_SIZE: '2' }) })
  afterAll(() => spinning.decorator.services.runner.close())
  const spin = (pythonCode: string) => post(spinning, '/api/execute-endpoint', { pythonCode, endpoint: '/spin' })

  test('`while True: pass` run six times at once is a timeout every time, never a crash', async () => {
    const replies = await Promise.all(
      Array.from({ length: 6 }, () => spin('@endpoint\ndef spin():\n    while True:\n        pass')),
    )
    for (const { body } of replies) {
      expect(body).toMatchObject({ success: false, error_type: 'timeout', error: 'Time limit exceeded (1000 ms)' })
    }
  })

  test('a program that burns CPU on four threads is a timeout, never a crash', async () => {
    // Hashing a large buffer releases the GIL: the threads burn CPU at once, on as many CPUs as the host lends.
    // On a few CPUs the wall clock ends it; on many, the CPU limit (SIGXCPU): a time limit either way.
    const burner = [
      'import hashlib, threading',
      'def burn():',
      '    data = b"x" * (1 << 20)',
      '    while True:',
      '        hashlib.sha256(data).digest()',
      '@endpoint',
      'def spin():',
      '    for _ in range(3):  # more would not fit the address-space limit (a thread reserves its stack and arena)',
      '        threading.Thread(target=burn).start()',
      '    burn()',
    ].join('\n')
    const { body } = await spin(burner)
    expect(body).toMatchObject({ success: false, error_type: 'timeout' })
  })
})
