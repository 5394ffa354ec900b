/**
 * An incremental reader for one JSON object whose interesting fields are strings, fed text as it streams:
 * it reports each string field's decoded text as it arrives and when it closes, so the autocomplete mode can
 * send `code_ready` the moment the `code` string ends and stream `explanation` while it is being written.
 * Other values (numbers, nested objects) are skipped. Text before the object that is not JSON (a model that
 * ignored the format) switches the reader to plain mode: everything is reported as `text`.
 *
 * A leading Markdown fence (```json) is tolerated, since some compatible servers wrap JSON answers in one.
 *
 * @example
 * const reader = new JsonFieldReader()
 * reader.feed('{"code":"x = 1","expl') // → [{ type: 'delta', field: 'code', text: 'x = 1' }, { type: 'end', field: 'code', value: 'x = 1' }]
 * reader.feed('anation":"Sets x."}')   // → [{ type: 'delta', field: 'explanation', text: 'Sets x.' }, { type: 'end', ... }]
 */
export type FieldEvent =
  | { type: 'delta'; field: string; text: string }
  | { type: 'end'; field: string; value: string }
  /** The answer is not a JSON object: plain text, reported as it comes. */
  | { type: 'text'; text: string }

type State =
  | 'start' // before the object: whitespace, maybe a fence
  | 'fence' // inside the fence's opening line
  | 'key-or-close'
  | 'key'
  | 'colon'
  | 'value'
  | 'string-value'
  | 'other-value'
  | 'comma-or-close'
  | 'done'
  | 'plain'

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }
const isSpace = (c: string) => c === ' ' || c === '\n' || c === '\r' || c === '\t'

export class JsonFieldReader {
  private state: State = 'start'
  private lead = '' // text seen before the object, replayed if it turns out not to be JSON
  private key = ''
  private value = ''
  private pending = '' // decoded text of the current string field not yet reported
  private escape: 'none' | 'backslash' | 'unicode' = 'none'
  private hex = ''
  // For skipped values: nesting depth and whether we are inside a string.
  private depth = 0
  private inString = false
  private skipEscape = false
  /** The decoded string fields seen so far (complete, or partial for the open one). */
  readonly fields: Record<string, string> = {}

  /** True once the reader knows the answer is not a JSON object. */
  get plain(): boolean {
    return this.state === 'plain'
  }

  feed(text: string): FieldEvent[] {
    const events: FieldEvent[] = []
    if (this.state === 'plain') {
      if (text) events.push({ type: 'text', text })
      return events
    }
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!
      switch (this.state) {
        case 'start':
          this.lead += c
          if (isSpace(c)) break
          if (c === '{') this.state = 'key-or-close'
          else if (c === '`') this.state = 'fence'
          else {
            this.state = 'plain'
            events.push({ type: 'text', text: this.lead + text.slice(i + 1) })
            return events
          }
          break
        case 'fence':
          this.lead += c
          if (c === '\n') this.state = 'start'
          break
        case 'key-or-close':
          if (c === '"') {
            this.state = 'key'
            this.key = ''
          } else if (c === '}') this.state = 'done'
          break
        case 'key':
          if (this.escape !== 'none' || c === '\\') this.key += this.decode(c)
          else if (c === '"') this.state = 'colon'
          else this.key += c
          break
        case 'colon':
          if (c === ':') this.state = 'value'
          break
        case 'value':
          if (isSpace(c)) break
          if (c === '"') {
            this.state = 'string-value'
            this.value = ''
            this.fields[this.key] = ''
          } else {
            this.state = 'other-value'
            this.depth = 0
            this.inString = false
            i-- // let the skipper see this character
          }
          break
        case 'string-value':
          if (this.escape === 'none' && c === '"') {
            this.state = 'comma-or-close'
            this.flush(events)
            events.push({ type: 'end', field: this.key, value: this.value })
          } else if (this.escape !== 'none' || c === '\\') {
            const decoded = this.decode(c)
            this.value += decoded
            this.pending += decoded
          } else {
            this.value += c
            this.pending += c
          }
          break
        case 'other-value':
          if (this.skip(c)) {
            this.state = 'comma-or-close'
            i-- // the character that ended the value is a comma or the closing brace
          }
          break
        case 'comma-or-close':
          if (c === ',') this.state = 'key-or-close'
          else if (c === '}') this.state = 'done'
          break
        case 'done':
          break
      }
    }
    if (this.state === 'string-value') this.flush(events)
    return events
  }

  /** Reports the decoded text held since the last report, keeping back half a surrogate pair. */
  private flush(events: FieldEvent[]) {
    let text = this.pending
    const last = text.charCodeAt(text.length - 1)
    const keepBack = last >= 0xd800 && last <= 0xdbff && this.state === 'string-value'
    if (keepBack) text = text.slice(0, -1)
    this.pending = keepBack ? this.pending.slice(-1) : ''
    this.fields[this.key] = this.value.slice(0, this.value.length - this.pending.length)
    if (text) events.push({ type: 'delta', field: this.key, text })
  }

  /** One character of an escape sequence (or the backslash starting it); returns what it decodes to so far. */
  private decode(c: string): string {
    if (this.escape === 'none') {
      this.escape = 'backslash'
      return ''
    }
    if (this.escape === 'backslash') {
      if (c === 'u') {
        this.escape = 'unicode'
        this.hex = ''
        return ''
      }
      this.escape = 'none'
      return ESCAPES[c] ?? c
    }
    this.hex += c
    if (this.hex.length < 4) return ''
    this.escape = 'none'
    const code = Number.parseInt(this.hex, 16)
    return Number.isNaN(code) ? '' : String.fromCharCode(code)
  }

  /** Skips a non-string value; true when `c` is the comma or brace just after it. */
  private skip(c: string): boolean {
    if (this.inString) {
      if (this.skipEscape) this.skipEscape = false
      else if (c === '\\') this.skipEscape = true
      else if (c === '"') this.inString = false
      return false
    }
    if (c === '"') this.inString = true
    else if (c === '{' || c === '[') this.depth++
    else if (c === '}' || c === ']') {
      if (this.depth === 0) return true
      this.depth--
    } else if (c === ',' && this.depth === 0) return true
    return false
  }
}
