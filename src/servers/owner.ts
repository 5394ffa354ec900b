/**
 * Who may stop a Python server and read its output: the client that started it. A start answers with an owner
 * token (128 random bits, base64url); whoever presents it in `X-Server-Token` may stop the server and read its
 * output. A caller without a token is the owner when its client identity (src/http/client.ts) is the one that
 * started the server, so old clients that know nothing of tokens keep working for their own servers.
 *
 * @example
 * const owner = newOwner('10.0.0.7')
 * mayControl(owner, { client: '10.0.0.8', token: owner.token }) // true
 * mayControl(owner, { client: '10.0.0.8' })                      // false
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { AppError } from '../errors'

export interface Owner {
  client: string
  token: string
}

/** Who is asking: the client identity, and the owner token if the request carried one. */
export interface Caller {
  client: string
  token?: string
}

export const TOKEN_HEADER = 'x-server-token'

export const newOwner = (client: string): Owner => ({ client, token: randomBytes(16).toString('base64url') })

/** A token, when sent, decides alone (a wrong one is refused even from the owner's address). */
export function mayControl(owner: Owner, caller: Caller): boolean {
  if (caller.token === undefined) return caller.client === owner.client
  const given = Buffer.from(caller.token)
  const expected = Buffer.from(owner.token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export function requireOwner(owner: Owner, caller: Caller, port: number): void {
  if (mayControl(owner, caller)) return
  throw new AppError(
    'not_owner',
    403,
    `The Python server on port ${port} belongs to another client; send its owner_token in the X-Server-Token header`,
  )
}
