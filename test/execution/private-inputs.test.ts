/**
 * A case's process holds its own input only, and a private case's result carries no timing. The attack: a private
 * case finds the other inputs of its batch (the harness's frames, the garbage collector, its own memory) and sleeps
 * byte × 20 ms, to be read back from its `duration_ms`, or from when its result event arrives. Real routes, real
 * sandbox. (Cases of one batch can still hand their own inputs to each other through the sandbox's /tmp: they all
 * run the learner's code. What a private case can then tell the client is its status, which no test here changes.)
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeServices, createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { post, postEvents } from '../support/http'

/** Every string starting with PRIVATE-INPUT- that learner code can reach, at load time and in its case. */
const SEARCH = `
import gc, sys, time

MARK = 'PRIVATE-INPUT-'

def _walk(value, found, seen, depth):
    if isinstance(value, str):
        if value.startswith(MARK) and value != MARK:
            found.add(value)
        return
    if depth > 6 or id(value) in seen or not isinstance(value, (dict, list, tuple, set)):
        return
    seen[id(value)] = value  # held, so no id is reused by a later object
    items = list(value.items()) if isinstance(value, dict) else list(value)
    for item in items:
        _walk(item, found, seen, depth + 1)

def reachable():
    found, seen = set(), {}
    frame = sys._getframe()
    while frame is not None:
        _walk(dict(frame.f_locals), found, seen, 0)
        _walk(dict(frame.f_globals), found, seen, 0)
        frame = frame.f_back
    for value in gc.get_objects():
        _walk(value, found, seen, 0)
    return found

AT_LOAD = reachable()

def in_memory():
    """Every marked string in this process's memory, freed or not (made dumpable again to read /proc/self/mem)."""
    import ctypes, re
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
    pattern = re.compile(re.escape(MARK.encode()) + rb'[0-9]+-[0-9a-f-]{36}')
    found = set()
    with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb', 0) as memory:
        for line in maps:
            span, mode = line.split()[:2]
            if 'r' not in mode:
                continue
            start, end = (int(x, 16) for x in span.split('-'))
            try:
                memory.seek(start)
                chunk = memory.read(end - start)
            except (OSError, OverflowError, ValueError):
                continue
            found.update(match.group().decode() for match in pattern.finditer(chunk))
    return found
`

const secret = (n: number) => `PRIVATE-INPUT-${n}-${crypto.randomUUID()}`

/** A tasks folder holding one task whose private tests are `tests`. */
function taskWith(tests: object[]) {
  const dir = mkdtempSync(join(tmpdir(), 'private-inputs-'))
  const task = join(dir, 'probe-task')
  mkdirSync(join(task, 'tests', 'backend'), { recursive: true })
  writeFileSync(
    join(task, 'task.json'),
    JSON.stringify({
      name: 'Probe Task',
      summary: 'Private tests only.',
      description: 'instructions.html',
      files: [],
      tests: { backend: 'tests/backend' },
    }),
  )
  writeFileSync(join(task, 'instructions.html'), '<p>Probe</p>')
  writeFileSync(join(task, 'tests', 'backend', '01-private.json'), JSON.stringify({ title: 'Hidden', tests }))
  return dir
}

const SECRET_BYTE = 23
const holder = secret(SECRET_BYTE)
const tasksDir = taskWith([
  { name: 'holder', endpoint: '/hold', input: { secret: holder }, expected: 'held', public: false },
  { name: 'probe', endpoint: '/probe', input: {}, expected: 'probed', public: false },
])
const app = createApp({ config: testConfig({ TASKS_DIR: tasksDir, EXEC_TEST_PARALLELISM: '2' }) })
afterAll(async () => {
  await closeServices(app.decorator.services)
  rmSync(tasksDir, { recursive: true, force: true })
})

describe('a case holds its own input only', () => {
  test('neither the module at load time nor a case finds another case of its batch among its objects', async () => {
    const secrets = [secret(1), secret(2), secret(3)]
    const code = `${SEARCH}
@endpoint('/look')
def look(secret):
    return sorted(AT_LOAD | reachable())
`
    const { status, body } = await post(app, '/api/execute-test-cases', {
      backendCode: code,
      testCases: secrets.map((own, i) => ({ name: `case ${i}`, endpoint: '/look', input: { secret: own } })),
    })
    expect(status).toBe(200)
    // What each case could reach is its own input: nothing at load time, no other case's.
    expect(body.results.map((r: { actual: unknown }) => r.actual)).toEqual(secrets.map((own) => [own]))
  }, 30_000)

  test('nor anywhere in its memory, freed or not, read byte by byte', async () => {
    const secrets = [secret(1), secret(2), secret(3)]
    const code = `${SEARCH}
LOADED = in_memory()

@endpoint('/look')
def look(secret):
    return {'at load': sorted(LOADED), 'in the case': sorted(in_memory())}
`
    const { status, body } = await post(app, '/api/execute-test-cases', {
      backendCode: code,
      testCases: secrets.map((own, i) => ({ name: `case ${i}`, endpoint: '/look', input: { secret: own } })),
    })
    expect(status).toBe(200)
    expect(body.results.map((r: { actual: unknown }) => r.actual)).toEqual(
      secrets.map((own) => ({ 'at load': [], 'in the case': [own] })),
    )
  }, 30_000)
})

describe('a private result carries no timing', () => {
  // The probe looks for the holder's input and sleeps as long as the number in it says; the holder runs longest.
  const code = `${SEARCH}
@endpoint('/hold')
def hold(secret):
    time.sleep(1.2)
    return 'held'

@endpoint('/probe')
def probe():
    for found in AT_LOAD | reachable():
        time.sleep(int(found.split('-')[2]) * 0.02)
    return 'probed'
`

  test('no duration: whatever the case read, every private result says 0 ms', async () => {
    const { status, body } = await post(app, '/api/execute-test-cases', {
      task: 'probe-task',
      include_private: true,
      backendCode: code,
    })
    expect(status).toBe(200)
    const redacted = (testName: string, message: string) => ({
      testName,
      status: message === 'Hidden test passed' ? 'pass' : 'fail',
      message,
      expected: null,
      actual: null,
      duration_ms: 0,
      private: true,
    })
    expect(body.results).toEqual([redacted('holder', 'Hidden test passed'), redacted('probe', 'Hidden test passed')])
  }, 30_000)

  test('event stream: private results come together, in the order of the task, not as each case ended', async () => {
    const { events } = await postEvents(app, '/api/execute-test-cases', {
      task: 'probe-task',
      include_private: true,
      backendCode: code,
    })
    // The probe ends first (it sleeps less than the holder), yet its event must not come first.
    expect(events.map(({ event, data }) => [event, data.testName ?? null])).toEqual([
      ['result', 'holder'],
      ['result', 'probe'],
      ['summary', null],
    ])
    expect(events.filter(({ event }) => event === 'result').map(({ data }) => data.duration_ms)).toEqual([0, 0])
  }, 30_000)
})
