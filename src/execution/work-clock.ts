/**
 * A time limit that counts only while some of its work runs. Time that every piece of it spends waiting (for a
 * browser slot while other learners' tests run, for a sandbox) is our queue, not the work's: a class grading at
 * once must not run out of time for waiting its turn. Work that runs too long still ends at the limit.
 *
 * @example
 * const clock = workClock(120_000)
 * const stopped = clock.running() // a browser test got its slot
 * stopped() // … and gave it back
 * clock.signal.aborted // true once 120 s of running time (of any piece) have passed
 * clock.close()
 */
export interface WorkClock {
  /** Aborts (with a TimeoutError) once the limit of running time has passed. */
  readonly signal: AbortSignal
  /** A piece of the work starts running; call what it returns when it stops (more calls change nothing). */
  running(): () => void
  /** No more work: the clock stops for good. */
  close(): void
}

export function workClock(limitMs: number): WorkClock {
  const controller = new AbortController()
  let active = 0
  let used = 0
  let since = 0
  let timer: Timer | undefined
  const expire = () => controller.abort(new DOMException(`${limitMs} ms of work have passed`, 'TimeoutError'))
  return {
    signal: controller.signal,
    running() {
      if (active++ === 0) {
        since = performance.now()
        timer = setTimeout(expire, Math.max(0, limitMs - used))
      }
      let stopped = false
      return () => {
        if (stopped) return
        stopped = true
        if (--active > 0) return
        used += performance.now() - since
        clearTimeout(timer)
      }
    },
    close: () => clearTimeout(timer),
  }
}
