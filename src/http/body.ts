/**
 * Request bodies are read by us, not by Elysia's default parser, so that every route has a size limit that
 * answers with the error envelope (413) instead of Bun's bare response, whether or not the client sent a
 * Content-Length. The limit depends on the route: screenshots for the judge are far larger than code.
 * Every body is parsed as JSON, and only once its nesting depth is known to be within MAX_BODY_DEPTH: a body
 * nested a million deep is cheap to send, and everything after the parse (validation, its error message, the
 * comparison of expected values) recurses through it, so one such request used to hold the event loop for seconds.
 */
import { Elysia, type TSchema } from 'elysia'
import { AppError } from '../errors'
import { checkBody } from './body-schema'
import { withinDepth } from './json-depth'

export type BodyLimit = (path: string) => number

function tooLarge(limit: number): AppError {
  return new AppError('payload_too_large', 413, `Request body is larger than the limit of ${limit} bytes`, {
    limit_bytes: limit,
  })
}

/** Reads at most `limit` bytes of a body; throws 413 as soon as more arrive. */
export async function readLimitedBytes(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN)
  if (declared > limit) throw tooLarge(limit)
  if (!request.body) return new Uint8Array()
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of request.body) {
    size += chunk.byteLength
    if (size > limit) throw tooLarge(limit)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** 400 body_too_deep; the value itself is never echoed. */
export function tooDeep(depth: number): AppError {
  return new AppError('body_too_deep', 400, `JSON nests deeper than ${depth} levels of arrays and objects`, {
    max_depth: depth,
  })
}

export interface BodyOptions {
  limitFor: BodyLimit
  /** MAX_BODY_DEPTH: deepest nesting of arrays and objects. */
  maxDepth: number
  /** The route's body schema (./body-schema.ts), checked here so Elysia never builds its costly error. */
  schemaFor?: (method: string, path: string) => TSchema | undefined
}

function parseJson(text: string): unknown {
  // The whole API speaks JSON, whatever Content-Type says: allowed origins send text/plain to skip a preflight
  // (the request guard in guard.ts refuses other types from anyone else).
  // An empty body is an empty object, so the route's schema names the missing fields.
  if (text.trim() === '') return {}
  try {
    return JSON.parse(text)
  } catch {
    throw new AppError('invalid_json', 400, 'Request body is not valid JSON')
  }
}

export const bodyParser = ({ limitFor, maxDepth, schemaFor }: BodyOptions) =>
  new Elysia({ name: 'body-parser' }).onParse({ as: 'global' }, async ({ request, path }) => {
    const bytes = await readLimitedBytes(request, limitFor(path))
    if (!withinDepth(bytes, maxDepth)) throw tooDeep(maxDepth)
    const body = parseJson(new TextDecoder().decode(bytes))
    const schema = schemaFor?.(request.method, path)
    const refusal = schema && checkBody(schema, body)
    if (refusal) throw refusal
    return body
  })
