/**
 * Waiting for something that may never happen (a context whose renderer is stuck, a browser that does not quit, a
 * page that does not take a click) for at most a while.
 */

/** Resolves true once `closing` settles (either way), false if it has not after `ms`. */
export async function closedWithin(closing: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: Timer | undefined
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  const done = closing.then(
    () => true,
    () => true,
  )
  const closed = await Promise.race([done, late])
  clearTimeout(timer)
  return closed
}
