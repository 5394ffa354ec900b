/**
 * Request bodies are read by us, not by Elysia's default parser, so that every route has a size limit that
 * answers with the error envelope (413) instead of Bun's bare response, whether or not the client sent a
 * Content-Length. The limit depends on the route: screenshots for the judge are far larger than code.
 * Every body is parsed as JSON.
 */
import { Elysia } from 'elysia'
import { AppError } from '../errors'

export type BodyLimit = (path: string) => number

function tooLarge(limit: number): AppError {
  return new AppError('payload_too_large', 413, `Request body is larger than the limit of ${limit} bytes`, {
    limit_bytes: limit,
  })
}

/** Reads at most `limit` bytes of a body; throws 413 as soon as more arrive. */
export async function readLimited(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? NaN)
  if (declared > limit) throw tooLarge(limit)
  if (!request.body) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of request.body) {
    size += chunk.byteLength
    if (size > limit) throw tooLarge(limit)
    chunks.push(chunk)
  }
  return new TextDecoder().decode(Buffer.concat(chunks))
}

export const bodyParser = (limitFor: BodyLimit) =>
  new Elysia({ name: 'body-parser' }).onParse({ as: 'global' }, async ({ request, path }) => {
    const text = await readLimited(request, limitFor(path))
    // The whole API speaks JSON, whatever Content-Type says: allowed origins send text/plain to skip a preflight
    // (the request guard in guard.ts refuses other types from anyone else).
    // An empty body is an empty object, so the route's schema names the missing fields.
    if (text.trim() === '') return {}
    try {
      return JSON.parse(text)
    } catch {
      throw new AppError('invalid_json', 400, 'Request body is not valid JSON')
    }
  })
