/**
 * At most `size` browser tests at once, shared fairly between clients: a free slot goes to the waiting client that
 * holds the fewest slots, and among those to the one served longest ago (round-robin), so one client's request of
 * twenty slow tests cannot make another client's grading wait behind all of them: the other client gets the next
 * slot that frees. A client alone may use every slot (no slot idles while someone waits). A waiter whose request
 * is cancelled leaves the queue. Slots beyond `base` are handed out only while `room()` says so (the runner asks
 * whether the browser's memory has room for one more page).
 *
 * @example
 * const slots = createSlots(2)
 * const release = await slots.acquire('10.0.0.7', request.signal)
 * try { await runTest() } finally { release() }
 */
export interface Slots {
  /** Resolves with the slot's release function (call it once). */
  acquire(client: string, signal?: AbortSignal): Promise<() => void>
  stats(): { active: number; waiting: number; concurrency: number }
}

interface ClientState {
  active: number
  waiting: Array<() => void>
  /** When this client last got a slot (a count of starts); -1 for never. */
  served: number
}

export interface SlotOptions {
  /** Slots handed out whatever `room` says (default: all of them). */
  base?: number
  /** Whether a slot beyond `base` may start now (the browser's memory has room for another page). */
  room?: () => boolean
}

export function createSlots(size: number, { base = size, room = () => true }: SlotOptions = {}): Slots {
  const clients = new Map<string, ClientState>() // only clients with a slot or a waiter
  let active = 0
  let waiting = 0
  let starts = 0

  const stateOf = (client: string) => {
    let state = clients.get(client)
    if (!state) clients.set(client, (state = { active: 0, waiting: [], served: -1 }))
    return state
  }
  const forget = (client: string, state: ClientState) => {
    if (state.active === 0 && state.waiting.length === 0) clients.delete(client)
  }
  const take = (state: ClientState) => {
    active++
    state.active++
    state.served = starts++
  }

  const free = () => active < size && (active < base || room())

  function dispatch() {
    while (free()) {
      let next: ClientState | undefined
      for (const state of clients.values()) {
        if (!state.waiting.length) continue
        if (!next || state.active < next.active || (state.active === next.active && state.served < next.served))
          next = state
      }
      if (!next) return
      waiting--
      next.waiting.shift()!()
    }
  }

  return {
    acquire(client, signal) {
      signal?.throwIfAborted()
      const state = stateOf(client)
      const release = once(() => {
        active--
        state.active--
        forget(client, state)
        dispatch()
      })
      if (free()) {
        take(state)
        return Promise.resolve(release)
      }
      return new Promise((resolve, reject) => {
        const start = () => {
          signal?.removeEventListener('abort', cancel)
          take(state)
          resolve(release)
        }
        const cancel = () => {
          const at = state.waiting.indexOf(start)
          if (at >= 0) {
            state.waiting.splice(at, 1)
            waiting--
          }
          forget(client, state)
          reject(signal?.reason)
        }
        state.waiting.push(start)
        waiting++
        signal?.addEventListener('abort', cancel, { once: true })
      })
    },
    stats: () => ({ active, waiting, concurrency: size }),
  }
}

function once(action: () => void): () => void {
  let done = false
  return () => {
    if (done) return
    done = true
    action()
  }
}
