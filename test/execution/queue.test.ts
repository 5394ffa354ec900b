/**
 * The execution slots (src/execution/queue.ts) on their own: jobs are promises the test settles, so the order in
 * which they start is the whole observation. No sandbox, no timing.
 */
import { describe, expect, test } from 'bun:test'
import { createQueue } from '../../src/execution/queue'

/** A job that records when it starts and runs until the test ends it. */
function jobs() {
  const started: string[] = []
  const running = new Map<string, () => void>()
  const job = (name: string) => () => {
    started.push(name)
    return new Promise<string>((resolve) => running.set(name, () => resolve(name)))
  }
  const end = async (name: string) => {
    running.get(name)!()
    running.delete(name)
    for (let i = 0; i < 5; i++) await Promise.resolve() // let the queue hand the slot on
  }
  return { started, job, end }
}

const settled = async (promise: Promise<unknown>) => {
  let done = false
  promise.then(
    () => (done = true),
    () => (done = true),
  )
  for (let i = 0; i < 5; i++) await Promise.resolve()
  return done
}

describe('fair slots', () => {
  test("one client's jobs never take every slot: another client's job runs at once", async () => {
    const queue = createQueue({ slots: 2, waiting: 8, perClient: 1, perClientWaiting: 4 })
    const { started, job } = jobs()
    void queue.run(job('a1'), { client: 'a' })
    void queue.run(job('a2'), { client: 'a' })
    void queue.run(job('a3'), { client: 'a' })
    void queue.run(job('b1'), { client: 'b' })
    expect(started).toEqual(['a1', 'b1'])
    expect(queue.stats()).toMatchObject({ running: 2, waiting: 2, clients: 2 })
  })

  test('waiting jobs are served round-robin between clients, not first come first served', async () => {
    const queue = createQueue({ slots: 1, waiting: 8, perClient: 1, perClientWaiting: 4 })
    const { started, job, end } = jobs()
    for (const name of ['a1', 'a2', 'a3', 'b1', 'b2', 'c1']) void queue.run(job(name), { client: name[0] })
    for (const name of ['a1', 'b1', 'c1', 'a2', 'b2']) await end(name)
    expect(started).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3'])
  })

  test('one client cannot fill the queue: past its share of waiting places it gets queue_full, others still wait', async () => {
    const queue = createQueue({ slots: 1, waiting: 4, perClient: 1, perClientWaiting: 2 })
    const { job } = jobs()
    void queue.run(job('a1'), { client: 'a' })
    void queue.run(job('a2'), { client: 'a' })
    void queue.run(job('a3'), { client: 'a' })
    await expect(queue.run(job('a4'), { client: 'a' })).rejects.toMatchObject({ code: 'queue_full', status: 503 })
    expect(await settled(queue.run(job('b1'), { client: 'b' }))).toBe(false) // waiting, not refused
    expect(queue.stats()).toMatchObject({ running: 1, waiting: 3 })
  })
})

describe('cancelled waiters', () => {
  test('a job whose signal aborts while it waits leaves the queue and never starts', async () => {
    const queue = createQueue({ slots: 1, waiting: 8, perClient: 1, perClientWaiting: 8 })
    const { started, job, end } = jobs()
    void queue.run(job('first'), { client: 'a' })
    const leaving = new AbortController()
    const left = queue.run(job('gone'), { client: 'b', signal: leaving.signal })
    void queue.run(job('next'), { client: 'c' })
    leaving.abort()
    await expect(left).rejects.toMatchObject({ code: 'request_cancelled' })
    expect(queue.stats().waiting).toBe(1)
    await end('first')
    expect(started).toEqual(['first', 'next'])
  })

  test('a job whose signal aborted before it asked never starts', async () => {
    const queue = createQueue({ slots: 1, waiting: 8, perClient: 1, perClientWaiting: 8 })
    const { started, job } = jobs()
    await expect(queue.run(job('gone'), { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'request_cancelled',
    })
    expect(started).toEqual([])
    expect(queue.stats()).toMatchObject({ running: 0, waiting: 0, clients: 0 })
  })
})
