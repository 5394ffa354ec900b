/**
 * How deep JSON text nests, measured on the raw bytes before JSON.parse sees them: one pass, no allocation, so
 * hostile input (a request body, a sandbox's report) is refused before any parse, validation or error message
 * recurses through it.
 *
 * @example
 * withinDepth(new TextEncoder().encode('[[1]]'), 1) // false
 */
const QUOTE = 0x22
const BACKSLASH = 0x5c

/** Whether JSON text (bytes) nests arrays and objects at most `limit` deep; brackets inside strings do not count. */
export function withinDepth(bytes: Uint8Array, limit: number): boolean {
  let depth = 0
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!
    if (byte === QUOTE) {
      // Jump to the closing quote: one native search per string instead of a step per character.
      let end = bytes.indexOf(QUOTE, i + 1)
      while (end !== -1 && escaped(bytes, end)) end = bytes.indexOf(QUOTE, end + 1)
      if (end === -1) return true // an unterminated string: JSON.parse rejects it
      i = end
    } else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > limit) return false
    } else if (byte === 0x5d || byte === 0x7d) depth--
  }
  return true
}

/** A quote is escaped when an odd number of backslashes precede it. */
function escaped(bytes: Uint8Array, quote: number): boolean {
  let count = 0
  for (let i = quote - 1; i >= 0 && bytes[i] === BACKSLASH; i--) count++
  return count % 2 === 1
}
