/**
 * Who is calling: the identity that slot fairness and Python-server ownership are keyed on. Without access keys
 * it is the caller's IP address; a deployment with keys or signed-in learners plugs in its own `Identify`
 * through createApp(deps) (the key's name, the token's subject).
 *
 * @example
 * const client = services.identify(request, server) // '127.0.0.1'
 */
import type { Server } from 'elysia/universal'

export type Identify = (request: Request, server: Server | null) => string

/** The peer address of the connection; requests handled in-process (app.handle) have none: 'local'. */
export const clientByAddress: Identify = (request, server) => server?.requestIP(request)?.address ?? 'local'
