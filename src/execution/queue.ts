/**
 * The execution slots, shared fairly between clients: `slots` jobs run at once, one client holds at most
 * `perClient` of them, and waiting jobs are served round-robin between clients, so a client with many jobs
 * cannot make another client's single call wait for all of them. At most `waiting` jobs wait in all and
 * `perClientWaiting` per client; beyond that a request is refused at once (503 queue_full with Retry-After)
 * rather than piling up. A waiting job whose signal aborts (its client left) leaves the queue and never starts.
 *
 * @example
 * const queue = createQueue({ slots: 2, waiting: 8, perClient: 1, perClientWaiting: 2 })
 * await queue.run(() => runJob(), { client: '10.0.0.7', signal: request.signal })
 */
import type { Config } from '../config'
import { AppError } from '../errors'

export interface QueueLimits {
  slots: number
  waiting: number
  perClient: number
  perClientWaiting: number
}

/** The limits from the configuration, with the per-client defaults derived from the totals. */
export function queueLimits(config: Config): QueueLimits {
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
}

export const cancelled = () => new AppError('request_cancelled', 499, 'The request was cancelled before its code ran')

const queueFull = () =>
  new AppError('queue_full', 503, 'Too many programs are running; try again in a moment', undefined, { 'retry-after': '1' })

export function createQueue(limits: QueueLimits) {
  const clients = new Map<string, ClientState>() // only clients with a running or waiting job
  const turns: string[] = [] // clients with waiting jobs, the next one to serve first
  let running = 0
  let waiting = 0
  let started = 0

  const stateOf = (client: string) => {
    let state = clients.get(client)
    if (!state) clients.set(client, (state = { running: 0, waiting: [] }))
    return state
  }

  const forget = (client: string, state: ClientState) => {
    if (state.running === 0 && state.waiting.length === 0) clients.delete(client)
  }

  /** Hands free slots to waiting jobs: the first client in turn that is under its share, then it goes last. */
  function dispatch() {
    while (running < limits.slots) {
      const turn = turns.findIndex((client) => clients.get(client)!.running < limits.perClient)
      if (turn === -1) return
      const client = turns.splice(turn, 1)[0]!
      const state = clients.get(client)!
      const waiter = state.waiting.shift()!
      waiting--
      if (state.waiting.length) turns.push(client)
      waiter.start()
    }
  }

  function take(state: ClientState) {
    running++
    state.running++
    started++
  }

  function wait(client: string, state: ClientState, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        state.waiting.splice(state.waiting.indexOf(waiter), 1)
        waiting--
        if (!state.waiting.length) turns.splice(turns.indexOf(client), 1)
        forget(client, state)
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
      if (state.waiting.length === 1) turns.push(client)
      signal?.addEventListener('abort', leave, { once: true })
    })
  }

  return {
    async run<T>(task: () => Promise<T>, { client = '', signal }: { client?: string; signal?: AbortSignal } = {}): Promise<T> {
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
  }
}
