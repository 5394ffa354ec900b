/**
 * The execution slots, shared fairly between clients: `slots` jobs run at once, one client holds at most
 * `perClient` of them, and a free slot goes to the waiting client served longest ago (round-robin), so a client
 * with many jobs cannot make another client's single call wait for all of them. At most `waiting` jobs wait in all and
 * `perClientWaiting` per client; beyond that a request is refused at once (503 queue_full with Retry-After)
 * rather than piling up. A waiting job whose signal aborts (its client left) leaves the queue and never starts.
 *
 * @example
 * const queue = createQueue({ slots: 2, waiting: 8, perClient: 1, perClientWaiting: 2 })
 * await queue.run(() => runJob(), { client: '10.0.0.7', signal: request.signal })
 */
import { AppError } from '../errors'

/** The settings this module reads (src/config.ts documents each). */
export interface QueueSettings {
  EXEC_CONCURRENCY: number
  EXEC_QUEUE_LENGTH: number
  EXEC_QUEUE_PER_CLIENT: number | undefined
  EXEC_SLOTS_PER_CLIENT: number | undefined
}

export interface QueueLimits {
  slots: number
  waiting: number
  perClient: number
  perClientWaiting: number
}

/** The limits from the configuration, with the per-client defaults derived from the totals. */
export function queueLimits(config: QueueSettings): QueueLimits {
  return {
    slots: config.EXEC_CONCURRENCY,
    waiting: config.EXEC_QUEUE_LENGTH,
    perClient: config.EXEC_SLOTS_PER_CLIENT ?? Math.max(1, Math.floor(config.EXEC_CONCURRENCY / 2)),
    perClientWaiting: config.EXEC_QUEUE_PER_CLIENT ?? Math.max(1, Math.ceil(config.EXEC_QUEUE_LENGTH / 4)),
  }
}

interface Waiter {
  start(): void
}

interface ClientState {
  running: number
  waiting: Waiter[]
  /** When this client last got a slot (a count of starts); -1 for never. */
  served: number
}

export const cancelled = () => new AppError('request_cancelled', 499, 'The request was cancelled before its code ran')

const queueFull = () =>
  new AppError('queue_full', 503, 'Too many programs are running; try again in a moment', undefined, {
    'retry-after': '1',
  })

export type Queue = ReturnType<typeof createQueue>

export function createQueue(limits: QueueLimits) {
  const clients = new Map<string, ClientState>() // only clients with a running or waiting job, oldest first
  let running = 0
  let waiting = 0
  let started = 0
  let watchers: (() => void)[] = []
  /** Wakes everyone awaiting whenChanged(): a job started, waits, left the queue or ended. */
  const changed = () => {
    const woken = watchers
    watchers = []
    for (const wake of woken) wake()
  }

  const stateOf = (client: string) => {
    let state = clients.get(client)
    if (!state) clients.set(client, (state = { running: 0, waiting: [], served: -1 }))
    return state
  }

  const forget = (client: string, state: ClientState) => {
    if (state.running === 0 && state.waiting.length === 0) clients.delete(client)
  }

  /** Hands free slots to waiting jobs: each to the client under its share that was served longest ago. */
  function dispatch() {
    while (running < limits.slots) {
      let next: ClientState | undefined
      for (const state of clients.values()) {
        if (!state.waiting.length || state.running >= limits.perClient) continue
        if (!next || state.served < next.served) next = state
      }
      if (!next) return
      waiting--
      next.waiting.shift()!.start()
    }
  }

  function take(state: ClientState) {
    running++
    state.running++
    state.served = started++
    changed()
  }

  function wait(client: string, state: ClientState, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        state.waiting.splice(state.waiting.indexOf(waiter), 1)
        waiting--
        forget(client, state)
        changed()
        reject(cancelled())
      }
      const waiter: Waiter = {
        start() {
          signal?.removeEventListener('abort', leave)
          take(state) // counted here, synchronously, so dispatch sees the slot as taken
          resolve()
        },
      }
      state.waiting.push(waiter)
      waiting++
      changed()
      signal?.addEventListener('abort', leave, { once: true })
    })
  }

  return {
    async run<T>(
      task: () => Promise<T>,
      { client = '', signal }: { client?: string; signal?: AbortSignal } = {},
    ): Promise<T> {
      if (signal?.aborted) throw cancelled()
      const state = stateOf(client)
      if (running < limits.slots && state.running < limits.perClient) take(state)
      else if (waiting >= limits.waiting || state.waiting.length >= limits.perClientWaiting) {
        forget(client, state)
        throw queueFull()
      } else await wait(client, state, signal)
      try {
        if (signal?.aborted) throw cancelled() // left between getting the slot and starting
        return await task()
      } finally {
        running--
        state.running--
        forget(client, state)
        dispatch()
        changed()
      }
    },
    stats: () => ({
      running,
      waiting,
      slots: limits.slots,
      max_waiting: limits.waiting,
      per_client: limits.perClient,
      clients: clients.size,
      started,
    }),
    /** Resolves at the next change of stats(): for whoever watches the slots (a test), without polling. */
    whenChanged: () => new Promise<void>((resolve) => watchers.push(resolve)),
  }
}
