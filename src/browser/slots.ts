/**
 * At most `size` browser tests at once; the others wait in arrival order. A waiter whose request is cancelled
 * leaves the queue.
 */
export interface Slots {
  /** Resolves with the slot's release function (call it once). */
  acquire(signal?: AbortSignal): Promise<() => void>
  stats(): { active: number; waiting: number; concurrency: number }
}

export function createSlots(size: number): Slots {
  let active = 0
  const waiting: Array<() => void> = []
  const release = () => {
    const next = waiting.shift()
    if (next) next()
    else active--
  }
  return {
    acquire(signal) {
      signal?.throwIfAborted()
      if (active < size) {
        active++
        return Promise.resolve(once(release))
      }
      return new Promise((resolve, reject) => {
        const start = () => {
          signal?.removeEventListener('abort', cancel)
          resolve(once(release))
        }
        const cancel = () => {
          const at = waiting.indexOf(start)
          if (at >= 0) waiting.splice(at, 1)
          reject(signal?.reason)
        }
        waiting.push(start)
        signal?.addEventListener('abort', cancel, { once: true })
      })
    },
    stats: () => ({ active, waiting: waiting.length, concurrency: size }),
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
