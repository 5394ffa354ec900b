import { afterAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveInside, resolveTasksDir, safeSegments } from '../../src/tasks/paths'
import { tasksFixture } from './fixture'

describe('safeSegments', () => {
  test('accepts plain relative paths and drops . and empty segments', () => {
    expect(safeSegments('a/b.png')).toEqual(['a', 'b.png'])
    expect(safeSegments('./a//b/')).toEqual(['a', 'b'])
  })

  test.each([
    ['empty', ''],
    ['parent', '../x'],
    ['inner parent', 'a/../../x'],
    ['absolute', '/etc/passwd'],
    ['windows drive', 'C:/Windows/win.ini'],
    ['backslashes', 'a\\..\\..\\x'],
    ['NUL byte', 'a\u0000.png'],
    ['only dots', './.'],
  ])('refuses %s', (_, path) => {
    expect(safeSegments(path)).toBeUndefined()
  })
})

describe('resolveInside', () => {
  const fixture = tasksFixture()
  afterAll(() => fixture.remove())

  test('resolves a file inside the root to its real path', async () => {
    expect(await resolveInside(fixture.dir, 'good-task/images/dot.png')).toEqual({
      ok: true,
      path: join(fixture.dir, 'good-task/images/dot.png'),
    })
  })

  test('a symlink leading outside counts as outside, whether or not the target exists', async () => {
    expect(await resolveInside(fixture.dir, 'good-task/images/escape.png')).toEqual({ ok: false, reason: 'outside' })
    expect(await resolveInside(fixture.dir, 'good-task/linked-outside/secret.png')).toEqual({
      ok: false,
      reason: 'outside',
    })
  })

  test('a safe path that is not there is missing', async () => {
    expect(await resolveInside(fixture.dir, 'good-task/nope.png')).toEqual({ ok: false, reason: 'missing' })
  })
})

describe('resolveTasksDir', () => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'tasks-dir-')))
  const cwd = join(base, 'cwd')
  const exec = join(base, 'bin')
  mkdirSync(join(cwd, 'here'), { recursive: true })
  mkdirSync(join(exec, 'shipped'), { recursive: true })
  afterAll(() => rmSync(base, { recursive: true, force: true }))

  test('an absolute path is used as it is', () => {
    expect(resolveTasksDir('/srv/tasks', cwd, exec)).toBe('/srv/tasks')
  })

  test('a relative path resolves against the working directory first', () => {
    expect(resolveTasksDir('./here', cwd, exec)).toBe(join(cwd, 'here'))
  })

  test('then next to the executable', () => {
    expect(resolveTasksDir('shipped', cwd, exec)).toBe(join(exec, 'shipped'))
  })

  test('when neither exists, the working-directory path (reported as missing later)', () => {
    expect(resolveTasksDir('nowhere', cwd, exec)).toBe(join(cwd, 'nowhere'))
  })
})
