/**
 * The clock behind GRADE_TIMEOUT_MS and a batch's EXEC_BATCH_TIMEOUT_MS (src/execution/work-clock.ts): it counts
 * only while some piece of the work runs, once however many run together. The margins are wide (a limit of 2 s
 * against 0.1-0.6 s of work) so that a busy host, whose timers fire late, cannot turn a pass into a failure.
 */
import { describe, expect, test } from 'bun:test'
import { workClock } from '../../src/execution/work-clock'

describe('the work clock', () => {
  test('time when nothing runs is not counted', async () => {
    const clock = workClock(2000)
    const first = clock.running()
    await Bun.sleep(100)
    first()
    await Bun.sleep(2500) // waiting for a slot: longer than the limit
    expect(clock.signal.aborted).toBe(false)
    const second = clock.running()
    await Bun.sleep(100)
    second()
    expect(clock.signal.aborted).toBe(false)
    clock.close()
  })

  test('pieces that run together count once', async () => {
    const clock = workClock(2000)
    const pieces = Array.from({ length: 8 }, () => clock.running())
    await Bun.sleep(600) // 8 × 600 ms would be 4.8 s
    for (const stop of pieces) stop()
    expect(clock.signal.aborted).toBe(false)
    clock.close()
  })

  test('work that runs past the limit is stopped, with a TimeoutError', async () => {
    const clock = workClock(300)
    const stop = clock.running()
    const aborted = new Promise((resolve) => clock.signal.addEventListener('abort', resolve))
    await aborted
    expect((clock.signal.reason as Error).name).toBe('TimeoutError')
    stop()
    stop() // a second call changes nothing
    clock.close()
  })
})
