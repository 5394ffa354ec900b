/**
 * CORS_ORIGINS → a predicate for @elysiajs/cors. Entries are exact origins; `*` as the port matches any
 * port of that host (`http://localhost:*`), and a lone `*` allows every origin.
 *
 * @example
 * allowOrigin('http://localhost:*')('http://localhost:5173') // true
 */
export function allowOrigin(list: string): (origin: string) => boolean {
  const entries = list
    .split(',')
    .map((entry) => entry.trim().replace(/\/$/, ''))
    .filter(Boolean)
  if (entries.includes('*')) return () => true
  const exact = new Set(entries.filter((e) => !e.endsWith(':*')))
  const anyPort = entries.filter((e) => e.endsWith(':*')).map((e) => e.slice(0, -2))
  return (origin) => {
    if (exact.has(origin)) return true
    const match = /^(https?:\/\/[^/:]+)(?::(\d{1,5}))?$/.exec(origin)
    return match !== null && anyPort.includes(match[1]!)
  }
}
