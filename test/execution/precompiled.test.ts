/**
 * The harness as precompiled bytecode (src/python/compiled.ts) and its lighter imports: a call loads no more than
 * it needs, the bytecode cannot be changed from inside a sandbox, and what the harness reads from the learner's
 * source without the ast module is exactly what ast would give.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../../src/app'
import { compileHarness } from '../../src/python/compiled'
import { harnessProgram, schedulerProgram } from '../../src/python/program'
import { testConfig } from '../support/config'
import { post } from '../support/http'

// The start cost of a fresh interpreter per job: the bubblewrap path (the zygote preloads these modules once).
const config = testConfig({ EXEC_TIMEOUT_MS: '3000', EXEC_ZYGOTE: 'false' })
const app = createApp({ config })
afterAll(() => app.decorator.services.runner.close())

const call = (pythonCode: string, endpoint?: string, args?: Record<string, unknown>) =>
  post(app, '/api/execute-endpoint', { pythonCode, endpoint, args })

describe('precompiled harness', () => {
  test('is written once into a private folder: files readable by all, folder not listable, gone after remove()', async () => {
    const made = await compileHarness(config.PYTHON_BIN, { learner: harnessProgram, scheduler: schedulerProgram })
    if ('error' in made) throw new Error(made.error)
    expect(statSync(made.dir).mode & 0o777).toBe(0o711)
    for (const file of [made.learner, made.scheduler]) expect(statSync(file).mode & 0o777).toBe(0o644)
    made.remove()
    expect(existsSync(made.dir)).toBe(false)
  })

  test('a folder left by a server that was killed goes at the next start; one of a running server stays', async () => {
    const ended = Bun.spawn(['true'])
    await ended.exited
    const stale = join(tmpdir(), `tutor-harness-${ended.pid}-stale`)
    const live = join(tmpdir(), `tutor-harness-${process.ppid}-live`) // our parent runs
    for (const dir of [stale, live]) mkdirSync(dir, { recursive: true })
    const made = await compileHarness(config.PYTHON_BIN, { learner: harnessProgram, scheduler: schedulerProgram })
    if ('error' in made) throw new Error(made.error)
    made.remove()
    expect(existsSync(stale)).toBe(false)
    expect(existsSync(live)).toBe(true)
    rmSync(live, { recursive: true })
  })

  test('a Python that cannot compile it is a reason, and callers keep the source', async () => {
    const made = await compileHarness('/nonexistent/python3', { learner: harnessProgram, scheduler: schedulerProgram })
    expect('error' in made).toBe(true)
  })

  test('a call loads neither ast, json nor traceback, and a failing call still reports its learner frames', async () => {
    const code = [
      'import sys',
      '@endpoint',
      'def loaded():',
      '    return sorted(m for m in ("ast", "json", "traceback", "re", "enum") if m in sys.modules)',
      '@endpoint',
      'def fails(x: int):',
      '    return helper(x)',
      'def helper(x):',
      '    return 1 / x',
    ].join('\n')
    expect((await call(code, '/loaded', {})).body.result).toEqual([])
    const { body } = await call(code, '/fails', { x: '0' }) // a string converted by annotation: ast comes in then
    expect(body.error).toBe('ZeroDivisionError: division by zero (line 9)')
    expect(body.traceback).toBe('  File "<learner>", line 7, in fails\n  File "<learner>", line 9, in helper\n')
  })

  test('learner code can neither change nor replace the bytecode the next sandboxes run', async () => {
    const code = [
      'import os, sys',
      '@endpoint',
      'def tamper():',
      '    if not sys.argv[0].endswith(".pyc"):',
      '        return "from source"  # as our own uid without bwrap: no bytecode is shared at all',
      '    results = []',
      '    for path in [sys.argv[0], os.path.dirname(sys.argv[0]) + "/new.pyc"]:',
      '        try:',
      '            open(path, "ab").close()',
      '            results.append("written")',
      '        except OSError:',
      '            results.append("refused")',
      '    return results',
    ].join('\n')
    const { result } = (await call(code, '/tamper', {})).body
    expect(result === 'from source' || JSON.stringify(result) === '["refused","refused"]').toBe(true)
    expect((await call('@endpoint\ndef ok():\n    return 1', '/ok', {})).body.result).toBe(1)
  })
})

describe('reading the source without the ast module', () => {
  test('endpoint bodies and parameter texts are what ast.get_source_segment gives, whatever the line ends', async () => {
    const code = [
      '# é ü — ∑\r\n@endpoint\r\ndef crlf(a: "ü" = "∑∑", b=[1,\r\n   2]):\r\n    return a\r\n',
      '\f@endpoint\rdef lone_cr(x: int = 1):\r    return x\r',
      '@endpoint\ndef plain(*args: int, key: "list[é]" = {"k": (1,\n 2)}, **rest):\n    """ü\fx"""\n    return 0\n',
    ].join('')
    const { status, body } = await call(code)
    expect(status).toBe(200)
    const ours = body.endpoints.map((e: any) => [e.body, e.parameters.map((p: any) => [p.defaultValue, p.annotation])])
    const script = [
      'import ast, json, sys',
      'source = sys.stdin.read()',
      'tree = ast.parse(source)',
      'seg = lambda n: None if n is None else ast.get_source_segment(source, n)',
      'out = []',
      'for f in tree.body:',
      '    a = f.args',
      '    pos = a.posonlyargs + a.args',
      '    first = len(pos) - len(a.defaults)',
      '    params = [(seg(a.defaults[i - first]) if i >= first else None, seg(p.annotation)) for i, p in enumerate(pos)]',
      '    if a.vararg: params.append((None, seg(a.vararg.annotation)))',
      '    params += [(seg(d), seg(p.annotation)) for p, d in zip(a.kwonlyargs, a.kw_defaults)]',
      '    if a.kwarg: params.append((None, seg(a.kwarg.annotation)))',
      '    out.append([seg(f), params])',
      'print(json.dumps(out))',
    ].join('\n')
    const proc = Bun.spawn([config.PYTHON_BIN, '-I', '-S', '-c', script], {
      stdin: new TextEncoder().encode(code),
      stdout: 'pipe',
    })
    const expected = JSON.parse(await new Response(proc.stdout).text())
    expect(ours).toEqual(expected)
    expect(ours).toHaveLength(3)
  })
})
