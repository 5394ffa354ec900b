/**
 * Browser slots are shared fairly: a client with many tests waiting does not make another client's one test wait
 * for all of them, a client alone uses every slot, a cancelled waiter leaves the queue, and slots beyond the base
 * need room.
 */
import { describe, expect, test } from 'bun:test'
import { createSlots } from '../../src/browser/slots'

describe('browser slots', () => {
  test("a free slot goes to the client holding fewest, not to the next of a busy client's many tests", async () => {
    const slots = createSlots(2)
    const order: string[] = []
    const held = [await slots.acquire('busy'), await slots.acquire('busy')]
    // Each waiter notes when it got a slot and gives it back at once.
    const waiters = ['busy 3', 'busy 4', 'busy 5', 'busy 6', 'other'].map((name) =>
      slots.acquire(name.split(' ')[0]!).then((release) => {
        order.push(name)
        release()
      }),
    )
    expect(slots.stats()).toEqual({ active: 2, waiting: 5, concurrency: 2 })
    held[0]!()
    await Promise.all(waiters)
    held[1]!()
    expect(order).toEqual(['other', 'busy 3', 'busy 4', 'busy 5', 'busy 6'])
    expect(slots.stats()).toEqual({ active: 0, waiting: 0, concurrency: 2 })
  })

  test('a client alone takes every slot, and a cancelled waiter leaves the queue', async () => {
    const slots = createSlots(2)
    const held = [await slots.acquire('alone'), await slots.acquire('alone')]
    const cancel = new AbortController()
    const cancelled = slots.acquire('alone', cancel.signal)
    const next = slots.acquire('alone')
    cancel.abort(new Error('left'))
    expect(cancelled).rejects.toThrow('left')
    expect(slots.stats()).toMatchObject({ active: 2, waiting: 1 })
    held[0]!()
    ;(await next)()
    held[1]!()
    expect(slots.stats()).toEqual({ active: 0, waiting: 0, concurrency: 2 })
  })

  test('slots beyond the base start only while there is room (the browser has memory for another page)', async () => {
    let room = false
    const slots = createSlots(4, { base: 2, room: () => room })
    const held = [await slots.acquire('a'), await slots.acquire('b')]
    let third = false
    const waiting = slots.acquire('c').then((release) => {
      third = true
      return release
    })
    await Bun.sleep(0)
    expect(third).toBe(false)
    expect(slots.stats()).toMatchObject({ active: 2, waiting: 1 })
    // Room is looked at again when a slot is given back: the waiter then takes the freed one, or one more.
    room = true
    held[0]!()
    const release = await waiting
    expect(slots.stats()).toMatchObject({ active: 2, waiting: 0 })
    expect([await slots.acquire('d'), await slots.acquire('e')]).toHaveLength(2) // room: up to 4 at once
    expect(slots.stats()).toMatchObject({ active: 4 })
    release()
  })
})
