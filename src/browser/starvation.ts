/**
 * Whether this server was starved of CPU while a test ran: a timer that should fire every TICK_MS is late by as
 * much as the process could not run. When the host is overloaded (a class grading at once on two cores), a
 * correct page can miss a step's time limit only because its harness did not get to run: such a failure says
 * nothing about the learner's page, and the runner runs the test again or reports its own error (runner.ts).
 * The timer runs only while some test is being watched.
 *
 * @example
 * const watch = monitor.watch()
 * await runTest()
 * watch.end() // { starved: true, lagMs: 3120 } after the process stood still for 3 s
 */
const TICK_MS = 50
/**
 * A single stall this long, or stalls adding up to STARVED_SHARE of the time watched, make it starved. A busy but
 * working host (garbage collection, other requests) stays well below both.
 */
const STARVED_STALL_MS = 750
const STARVED_SHARE = 0.4

export interface Starvation {
  starved: boolean
  /** Time the process could not run while watched, in ms. */
  lagMs: number
}

export function createStarvationMonitor() {
  const watching = new Set<{ lag: number; worst: number }>()
  let timer: Timer | null = null
  let last = 0

  /** Adds the lateness since the last tick to every watch. */
  function measure() {
    const now = performance.now()
    const late = Math.max(0, now - last - TICK_MS)
    last = now
    for (const watch of watching) {
      watch.lag += late
      watch.worst = Math.max(watch.worst, late)
    }
  }

  return {
    watch() {
      if (!timer) {
        last = performance.now()
        timer = setInterval(measure, TICK_MS)
      }
      const started = performance.now()
      const watch = { lag: 0, worst: 0 }
      watching.add(watch)
      return {
        end(): Starvation {
          // The stall under way now counts too (the tick after it has not fired yet).
          const pending = Math.max(0, performance.now() - last - TICK_MS)
          watching.delete(watch)
          if (watching.size === 0 && timer) {
            clearInterval(timer)
            timer = null
          }
          const lagMs = watch.lag + pending
          const worst = Math.max(watch.worst, pending)
          const elapsed = performance.now() - started
          return { starved: worst >= STARVED_STALL_MS || lagMs >= STARVED_SHARE * elapsed, lagMs: Math.round(lagMs) }
        },
      }
    },
  }
}
