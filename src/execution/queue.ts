/**
 * A bounded queue in front of the runner: `slots` jobs run at once, `waiting` more may wait, and beyond that a
 * request is refused at once with 503 queue_full and Retry-After rather than piling up.
 *
 * @example
 * const queue = createQueue(2, 8)
 * await queue.run(() => runJob())
 */
import { AppError } from '../errors'

export function createQueue(slots: number, waiting: number) {
  let running = 0
  const waiters: (() => void)[] = []

  const release = () => {
    const next = waiters.shift()
    if (next) next() // the slot passes straight to the next waiter
    else running--
  }

  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (running < slots) running++
      else if (waiters.length < waiting) await new Promise<void>((resolve) => waiters.push(resolve))
      else {
        throw new AppError('queue_full', 503, 'Too many programs are running; try again in a moment', undefined, {
          'retry-after': '1',
        })
      }
      try {
        return await task()
      } finally {
        release()
      }
    },
    stats: () => ({ running, waiting: waiters.length, slots, max_waiting: waiting }),
  }
}
