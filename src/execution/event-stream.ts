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
