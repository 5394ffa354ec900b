import type { HealthReport, Service } from '../../src/services'
import { createLogger, type Logger, type LogLevel } from '../../src/logging'

/** A service with a scripted health report that records whether it was closed. */
export function fakeService(report: Record<string, HealthReport>) {
  const service = { closed: false, health: () => report, close: () => void (service.closed = true) }
  return service satisfies Service
}

/** A logger that keeps its lines for assertions instead of writing them. */
type Line = Record<string, unknown>

export function memoryLogger(level: LogLevel = 'debug') {
  const lines: Line[] = []
  const waiting: { match: (line: Line) => boolean; resolve: (line: Line) => void }[] = []
  const logger = createLogger(level, (text) => {
    const line = JSON.parse(text) as Line
    lines.push(line)
    for (const waiter of waiting.filter((w) => w.match(line))) {
      waiting.splice(waiting.indexOf(waiter), 1)
      waiter.resolve(line)
    }
  })
  /** Resolves with the first line (already written or still to come) that matches. */
  const next = (match: (line: Line) => boolean) =>
    new Promise<Line>((resolve) => {
      const seen = lines.find(match)
      if (seen) resolve(seen)
      else waiting.push({ match, resolve })
    })
  return Object.assign(logger, { lines, next }) as Logger & { lines: Line[]; next: typeof next }
}
