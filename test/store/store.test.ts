import { beforeAll, describe, expect, test } from 'bun:test'
import { StoreNotFound } from '../../src/store/errors'
import type { Store } from '../../src/store/port'
import { storeBackends } from './backends'
import { attempt, HOSTILE } from './fixtures'

const { backends: BACKENDS, freshStore } = storeBackends()

for (const backend of BACKENDS) {
  describe.skipIf(Boolean(backend.skip))(
    `store on ${backend.kind}${backend.skip ? ` (skipped: ${backend.skip})` : ''}`,
    () => {
      let store: Store
      beforeAll(async () => {
        store = await freshStore(backend, 'store')
      })
      const alice = { learner: 'alice', admin: false }
      const bob = { learner: 'bob', admin: false }
      const teacher = { learner: 'teacher', admin: true }

      test('an attempt comes back whole, hostile text byte for byte', async () => {
        const learner = `jwt:${HOSTILE}`
        const saved = await store.saveAttempt(attempt(learner, 'tic-tac-toe', 3))
        expect(saved.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        const read = await store.getAttempt({ learner, admin: false }, saved.id)
        const { learner: _, ...sent } = attempt(learner, 'tic-tac-toe', 3)
        expect(read).toEqual({
          ...saved,
          learner,
          files: sent.files,
          groups: sent.groups,
          results: sent.results,
          include_private: true,
        })
        expect(read!.learner).toBe(learner)
        expect(read!.files.backendCode).toContain(HOSTILE)
        // The table survived the text that names it.
        expect((await store.listAttempts({ learner, admin: false }, { limit: 5 })).attempts).toHaveLength(1)
      })

      test("another learner's attempt is missing like one that does not exist; an admin reads any", async () => {
        const saved = await store.saveAttempt(attempt('alice', 'calculator-app', 1))
        expect(await store.getAttempt(bob, saved.id)).toBeUndefined()
        expect(await store.getAttempt(alice, 'no-such-id')).toBeUndefined()
        expect(await store.getAttempt(alice, `${saved.id}' OR '1'='1`)).toBeUndefined()
        expect((await store.getAttempt(teacher, saved.id))?.learner).toBe('alice')
      })

      test('attempts list newest first, a page at a time, by task', async () => {
        const learner = 'pager'
        const ids: string[] = []
        for (let i = 0; i < 5; i++) ids.push((await store.saveAttempt(attempt(learner, i % 2 ? 'b' : 'a', i))).id)
        const me = { learner, admin: false }
        const first = await store.listAttempts(me, { limit: 2 })
        expect(first.attempts.map((a) => a.id)).toEqual(ids.slice(3).reverse())
        const second = await store.listAttempts(me, { limit: 2, before: first.next! })
        expect(second.attempts.map((a) => a.id)).toEqual(ids.slice(1, 3).reverse())
        const last = await store.listAttempts(me, { limit: 2, before: second.next! })
        expect(last).toEqual({ attempts: [expect.objectContaining({ id: ids[0] })], next: null })
        expect((await store.listAttempts(me, { limit: 10, task: 'b' })).attempts.map((a) => a.id)).toEqual([
          ids[3]!,
          ids[1]!,
        ])
        expect(await store.listAttempts(me, { limit: 10, task: HOSTILE })).toEqual({ attempts: [], next: null })
      })

      test('progress: attempts, best, last and completed per task; the class view per learner', async () => {
        const a = await store.saveAttempt(attempt('prog', 'x', 4))
        const b = await store.saveAttempt(attempt('prog', 'x', 1))
        const c = await store.saveAttempt(attempt('prog', 'y', 2))
        expect(await store.progress('prog')).toEqual([
          { task: 'x', attempts: 2, best: a.score, last: b, completed: true },
          { task: 'y', attempts: 1, best: c.score, last: c, completed: false },
        ])
        const everyone = await store.classProgress('x')
        expect(everyone.find((l) => l.learner === 'prog')).toEqual({
          learner: 'prog',
          tasks: [{ task: 'x', attempts: 2, best: a.score, last_at: b.created_at, last: b.score, completed: true }],
        })
        expect(everyone.every((l) => l.tasks.every((t) => t.task === 'x'))).toBe(true)
      })

      test('conversations: messages in order, hostile text intact, only their learner sees them', async () => {
        const made = await store.createConversation('carol', 'tic-tac-toe', HOSTILE)
        await store.appendMessages(made.id, [{ role: 'user', content: HOSTILE }])
        await store.appendMessages(made.id, [
          { role: 'assistant', content: 'What does /reset return?', hint_level: 1 },
          { role: 'user', content: 'null\0' },
        ])
        const carol = { learner: 'carol', admin: false }
        const read = await store.getConversation(carol, made.id)
        expect(read).toEqual({
          id: made.id,
          learner: 'carol',
          task: 'tic-tac-toe',
          messages: [
            { role: 'user', content: HOSTILE, created_at: expect.any(String) },
            { role: 'assistant', content: 'What does /reset return?', created_at: expect.any(String), hint_level: 1 },
            { role: 'user', content: 'null\0', created_at: expect.any(String) },
          ],
        })
        const list = await store.listConversations(carol, { task: 'tic-tac-toe' })
        expect(list).toEqual([{ ...made, messages: 3, updated_at: expect.any(String) }])
        expect(await store.listConversations(carol, { task: 'other' })).toEqual([])
        expect(await store.getConversation(bob, made.id)).toBeUndefined()
        expect(await store.deleteConversation(bob, made.id)).toBe(false)
        expect((await store.getConversation(teacher, made.id))?.messages).toHaveLength(3)
        expect(await store.deleteConversation(carol, made.id)).toBe(true)
        expect(await store.getConversation(carol, made.id)).toBeUndefined()
        const late = [{ role: 'user' as const, content: 'late' }]
        expect(await store.appendMessages(made.id, late).catch((error) => error)).toBeInstanceOf(StoreNotFound)
        expect((await store.health()).store.ok).toBe(true)
      })

      test("deleting a learner's data removes theirs, for good, and nobody else's", async () => {
        await store.saveAttempt(attempt('dave', 'x', 1))
        await store.saveAttempt(attempt('dave', 'y', 1))
        await store.saveAttempt(attempt('erin', 'x', 1))
        await store.createConversation('dave', null, 'hello')
        expect(await store.deleteLearnerData('dave')).toEqual({ attempts: 2, conversations: 1 })
        expect(await store.progress('dave')).toEqual([])
        expect(await store.listConversations({ learner: 'dave', admin: false }, {})).toEqual([])
        expect(await store.progress('erin')).toHaveLength(1)
        expect(await store.deleteLearnerData('dave')).toEqual({ attempts: 0, conversations: 0 })
      })

      test("a regrade job lists the attempts made for it; a stopped server's jobs become failed", async () => {
        const job = await store.createJob('x', null, 2)
        expect(job).toEqual({ id: job.id, task: 'x', learner: null, status: 'queued', done: 0, total: 2, attempts: [] })
        await store.updateJob(job.id, { status: 'running' })
        const made = await store.saveAttempt(attempt('frank', 'x', 2, 4, { regrade: true, job: job.id }))
        await store.updateJob(job.id, { done: 1 })
        expect(await store.getJob(job.id)).toEqual({ ...job, status: 'running', done: 1, attempts: [made.id] })
        expect(made.regrade).toBe(true)
        // A job renewed just now is left alone when only stale ones are failed, and failed when all are.
        expect(await store.failUnfinishedJobs(60_000)).toBe(0)
        expect(await store.failUnfinishedJobs(0)).toBeGreaterThanOrEqual(1)
        expect(await store.getJob(job.id)).toMatchObject({
          status: 'failed',
          error: expect.stringContaining('stopped'),
        })
        expect(await store.getJob('nope')).toBeUndefined()
      })

      test('the latest attempt of each learner at a task, and of one', async () => {
        await store.saveAttempt(attempt('gina', 'z', 1))
        const gina = await store.saveAttempt(attempt('gina', 'z', 2))
        const hank = await store.saveAttempt(attempt('hank', 'z', 3))
        expect((await store.latestAttempts('z')).map((a) => a.id)).toEqual([gina.id, hank.id])
        expect((await store.latestAttempts('z', 'hank')).map((a) => a.id)).toEqual([hank.id])
        expect((await store.lastAttempt('gina', 'z'))?.id).toBe(gina.id)
        expect(await store.lastAttempt('gina', 'nothing')).toBeUndefined()
      })

      test('retention removes what is older than the limit and keeps the rest', async () => {
        const kept = await store.saveAttempt(attempt('ivy', 'x', 1))
        expect(await store.expire(1)).toBe(0)
        expect(await store.getAttempt({ learner: 'ivy', admin: false }, kept.id)).toBeDefined()
        // Zero days: everything made before now is older than the limit.
        expect(await store.expire(0)).toBeGreaterThan(0)
        expect(await store.getAttempt({ learner: 'ivy', admin: false }, kept.id)).toBeUndefined()
      })

      test('health says which database, that it answers, and the schema version', async () => {
        expect(await store.health()).toEqual({
          store: { ok: true, kind: backend.kind, reachable: true, schema_version: 4 },
        })
      })
    },
  )
}

describe('SQLite, one connection', () => {
  test('a save running while another call rolls its transaction back is kept', async () => {
    const store = await freshStore(BACKENDS[0]!, 'rollback')
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2
          ? store.appendMessages('no-such-conversation', [{ role: 'user', content: 'x' }]).then(
              () => 'appended',
              () => 'refused',
            )
          : store.saveAttempt(attempt('kept', 'x', 1)).then((saved) => saved.id),
      ),
    )
    const saved = results.filter((result) => result !== 'refused' && result !== 'appended')
    expect(saved).toHaveLength(10)
    const page = await store.listAttempts({ learner: 'kept', admin: false }, { limit: 100 })
    expect(page.attempts.map((a) => a.id).sort()).toEqual(saved.sort())
  })
})
