/**
 * Graceful shutdown: stop accepting connections, give in-flight requests up to `graceMs` to finish, then close
 * what is still open and every service (which kills child processes: sandboxes, Python servers).
 */
import type { Server } from 'bun'
import type { Logger } from './logging'

export async function shutDown(
  server: Pick<Server<unknown>, 'stop'>,
  closeServices: () => Promise<void>,
  graceMs: number,
  logger: Logger,
): Promise<void> {
  const drained = server.stop(false).then(() => true)
  const expired = new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs).unref())
  const clean = await Promise.race([drained, expired])
  if (!clean) logger.warn('grace period over; closing open connections', { grace_ms: graceMs })
  await server.stop(true)
  await closeServices()
}
