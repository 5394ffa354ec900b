/**
 * Whether a learner server listens: the ready channel serve.py signals on, and the port probe of the
 * unsandboxed mode.
 */
import { closeSync } from 'node:fs'
import { createServer } from 'node:net'

/** Whether nothing listens on 127.0.0.1:`port` right now (for the unsandboxed mode, where Python binds it). */
export function portIsFree(port: number): Promise<boolean> {
  const probe = createServer()
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })
}

/**
 * Watches the ready channel: a pipe (fd 3 in the child) on which serve.py writes once something listens on PORT.
 * `ready` resolves on the first byte and never on end of file. The learner's code can write there too; that can
 * only make its own start request return early, so what arrives is not read. The fd is ours (Bun hands over
 * extra stdio fds) and is closed exactly once, when the first byte or end of file arrives.
 */
export function watchReady(fd: number): { ready: Promise<void> } {
  let signal!: () => void
  const ready = new Promise<void>((resolve) => (signal = resolve))
  void (async () => {
    const reader = Bun.file(fd).stream().getReader()
    try {
      if (!(await reader.read()).done) signal()
      await reader.cancel()
    } catch {
      // a reset channel is the same as no signal
    } finally {
      closeSync(fd)
    }
  })()
  return { ready }
}
