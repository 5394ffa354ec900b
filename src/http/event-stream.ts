/**
 * A server-sent-events body that makes its producer wait while the client is not reading. `send` returns a
 * promise once more than `highWaterMark` bytes are queued; it settles when Bun pulls again (the socket took the
 * queued bytes) or when the client is gone. Bun pulls a response body only as fast as the socket drains, so a
 * client that never reads costs this queue and the kernel's socket buffers, not the whole stream.
 *
 * @example
 * const events = eventStream()
 * await events.send('result', result) // waits here while the client lags
 * events.close()
 * return new Response(events.body, { headers: { 'content-type': 'text/event-stream' } })
 */
export function eventStream(highWaterMark = 64 * 1024) {
  const encoder = new TextEncoder()
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let waiters: (() => void)[] = []
  let done = false
  const wake = () => {
    const woken = waiters
    waiters = []
    for (const resolve of woken) resolve()
  }
  const body = new ReadableStream<Uint8Array>(
    {
      start: (c) => void (controller = c),
      pull: wake,
      cancel() {
        done = true
        wake()
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark }),
  )
  return {
    body,
    send(event: string, data: unknown): Promise<void> | undefined {
      if (done) return undefined
      controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`))
      if ((controller.desiredSize ?? 0) > 0) return undefined
      return new Promise<void>((resolve) => waiters.push(resolve))
    },
    close() {
      if (done) return
      done = true
      controller.close()
      wake()
    },
  }
}

export interface ReportStreamOptions<T> {
  /** The last event's data: the finished report (or a part of it). */
  summary: (report: T) => unknown
  /** The `error` event's data when the work failed after the stream had begun (the error envelope). */
  error: (error: unknown) => unknown
  /** Called once the work has ended, however it ended (frees a place held for it). */
  settled: () => void
}

/**
 * Streams a piece of graded work: one `result` event per finished test (sending waits while the client does not
 * read, which holds the work back until its own time limit ends it), then `summary`, or `error`. The answer
 * becomes a 200 stream only once the work is admitted (has its execution slot) or has ended, so a refusal before
 * that (503 queue_full with Retry-After, sandbox_unavailable) stays a status rather than an event of a 200.
 * Used by execute-test-cases and /api/grade.
 */
export async function reportStream<T>(
  run: (send: (result: unknown) => Promise<void> | undefined, admitted: () => void) => Promise<T>,
  { summary, error, settled }: ReportStreamOptions<T>,
): Promise<Response> {
  const events = eventStream()
  const admitted = Promise.withResolvers<void>()
  const report = run((result) => events.send('result', result), admitted.resolve)
  void report.catch(() => {}).finally(settled)
  try {
    await Promise.race([admitted.promise, report])
  } catch (failure) {
    events.close()
    throw failure
  }
  void report
    .then(
      (done) => events.send('summary', summary(done)),
      (failure) => events.send('error', error(failure)),
    )
    .finally(events.close)
  return new Response(events.body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } })
}
