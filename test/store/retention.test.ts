import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SQL } from 'bun'
import { createLogger } from '../../src/logging'
import { createStore } from '../../src/store'
import { memoryLogger } from '../support/services'
import { attempt } from './fixtures'

const folder = mkdtempSync(join(tmpdir(), 'tutor-retention-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

test('RETENTION_DAYS deletes older attempts and conversations at start and keeps recent ones', async () => {
  const url = `sqlite:${join(folder, 'tutor.sqlite')}`
  const seed = createStore({ url, dataDir: folder, logger: createLogger('silent') })
  const old = await seed.saveAttempt(attempt('ola', 'x', 1))
  const recent = await seed.saveAttempt(attempt('ola', 'x', 2))
  const talk = await seed.createConversation('ola', 'x', 'old talk')
  await seed.close()
  const sql = new SQL({ adapter: 'sqlite', filename: join(folder, 'tutor.sqlite') })
  const longAgo = new Date(Date.now() - 40 * 86_400_000).toISOString()
  await sql`UPDATE attempts SET created_at = ${longAgo} WHERE id = ${old.id}`
  await sql`UPDATE conversations SET updated_at = ${longAgo} WHERE id = ${talk.id}`
  await sql.close()

  const logger = memoryLogger('info')
  const store = createStore({ url, dataDir: folder, logger, retentionDays: 30 })
  try {
    const line = await logger.next((l) => l.msg === 'deleted data older than RETENTION_DAYS')
    expect(line).toMatchObject({ rows: 2, days: 30 })
    const ola = { learner: 'ola', admin: false }
    expect(await store.getAttempt(ola, old.id)).toBeUndefined()
    expect(await store.getAttempt(ola, recent.id)).toBeDefined()
    expect(await store.getConversation(ola, talk.id)).toBeUndefined()
    // Progress counts only what is left.
    expect(await store.progress('ola')).toEqual([
      { task: 'x', attempts: 1, best: recent.score, last: recent, completed: false },
    ])
  } finally {
    await store.close()
  }
})
