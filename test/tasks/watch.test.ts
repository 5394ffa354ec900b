import { afterAll, expect, test } from 'bun:test'
import { cpSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createFsTaskStore } from '../../src/tasks/fs-store'
import { memoryLogger } from '../support/services'
import { FIXTURES } from './fixture'

const base = realpathSync(mkdtempSync(join(tmpdir(), 'tasks-watch-')))
afterAll(() => rmSync(base, { recursive: true, force: true }))

test('with watch on, a changed task file is picked up without a restart', async () => {
  cpSync(join(FIXTURES, 'good-task'), join(base, 'good-task'), { recursive: true })
  const logger = memoryLogger()
  const store = createFsTaskStore({ dir: base, watch: true, logger, debounceMs: 10 })
  try {
    await logger.next((line) => line.msg === 'watching tasks folder')
    expect((await store.list()).map((t) => t.name)).toEqual(['Good Task'])
    expect((await store.health()).tasks).toMatchObject({ ok: true, loaded: 1, watching: true })

    const before = logger.lines.length
    const reloaded = logger.next((line) => line.msg === 'tasks loaded' && logger.lines.indexOf(line) >= before)
    const manifest = join(base, 'good-task/task.json')
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('"Good Task"', '"Renamed Task"'))
    await reloaded
    expect((await store.list()).map((t) => t.name)).toEqual(['Renamed Task'])
  } finally {
    store.close()
  }
})

test('without watch, changes wait for an explicit reload', async () => {
  const dir = join(base, 'unwatched')
  cpSync(join(FIXTURES, 'good-task'), join(dir, 'good-task'), { recursive: true })
  const store = createFsTaskStore({ dir, watch: false, logger: memoryLogger() })
  expect((await store.find('good-task'))?.summary).toBe('A fixture task that loads.')
  const manifest = join(dir, 'good-task/task.json')
  writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('A fixture task that loads.', 'Changed.'))
  expect((await store.find('good-task'))?.summary).toBe('A fixture task that loads.')
  await store.reload()
  expect((await store.find('good-task'))?.summary).toBe('Changed.')
  expect((await store.health()).tasks).toMatchObject({ watching: false })
  store.close()
})
