/** What the benches share: a percentile of samples, and a JSON POST through an app in this process. */
import type { createApp } from '../src/app'

/** The p-th percentile (0-100) of `samples`, nearest rank; NaN when there are none. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

/** POSTs `body` as JSON to `path` through `app.handle` and reads the JSON answer. */
export function postJson(app: ReturnType<typeof createApp>, path: string, body: unknown): Promise<any> {
  const request = new Request(`http://localhost${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return app.handle(request).then((response) => response.json())
}
