/**
 * Turning whatever an SDK throws into a ProviderFailure: a short readable sentence with the upstream status,
 * and never a credential. Vendors echo keys back (OpenAI's 401 names the key it got), so every message is
 * scrubbed of the configured secrets and of anything shaped like a key before it leaves the adapter.
 */
import type { ProviderFailure } from './provider'

const MAX_MESSAGE = 300
// sk-..., sk-ant-..., sk-proj-... and bearer tokens, however the upstream chose to echo or mask them.
const KEY_SHAPED = /\b(?:sk|pk|rk)-[A-Za-z0-9_*.-]{3,}|\bBearer\s+\S+/gi

/** Removes every given secret and every key-shaped token from `text`. */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]')
  return out.replace(KEY_SHAPED, '[redacted]')
}

/** What the adapter knows from its SDK's error classes (class names do not survive minification). */
export type FailureKind = 'timeout' | 'connection'

/** The sentence of each kind; src/metrics/providers.ts tells the kinds apart by them. */
export const FAILURE_MESSAGES: Record<FailureKind, string> = {
  timeout: 'The model API did not answer in time',
  connection: 'Could not reach the model API',
}

/** The vendor's own sentence from an SDK error body: `{ error: { message } }` or `{ message }`. */
function upstreamMessage(body: unknown): string | undefined {
  const b = body as { message?: unknown; error?: { message?: unknown } } | undefined
  const message = b?.error?.message ?? b?.message
  return typeof message === 'string' && message.trim() ? message.trim() : undefined
}

/**
 * @example
 * describeFailure(new OpenAI.APIError(401, { message: 'Incorrect API key provided: sk-abc' }, ...), ['sk-abc'])
 * // → { status: 401, message: 'The model API answered 401: Incorrect API key provided: [redacted]' }
 */
export function describeFailure(
  error: unknown,
  secrets: readonly (string | undefined)[] = [],
  kind?: FailureKind,
): ProviderFailure {
  const e = error as { status?: unknown; error?: unknown; message?: unknown } | undefined
  const status = typeof e?.status === 'number' ? e.status : undefined
  let message: string
  if (status !== undefined) {
    const said = upstreamMessage(e?.error) ?? (typeof e?.message === 'string' ? e.message : 'no details')
    message = `The model API answered ${status}: ${said}`
  } else if (kind) {
    message = FAILURE_MESSAGES[kind]
  } else {
    const said = upstreamMessage(e?.error) ?? (typeof e?.message === 'string' ? e.message : String(error))
    message = `The model API request failed: ${said}`
  }
  message = redact(message, secrets)
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE - 1)}…`
  return status === undefined ? { message } : { message, status }
}

/** A stream that stopped without saying it finished was cut: by the network, a proxy or the upstream. */
export const CUT_OFF: ProviderFailure = { message: 'The model API stream ended before the answer was complete' }
