/**
 * Who is calling: the identity that slot fairness and Python-server ownership are keyed on. With access keys it
 * is the key's name (src/access/index.ts), without them the caller's IP address; a test or an embedding can pass
 * its own `Identify` through createApp(deps).
 *
 * @example
 * const client = services.identify(request, server) // '127.0.0.1'
 */
import type { Server } from 'elysia/universal'

export type Identify = (request: Request, server: Server | null) => string

/** The peer address of the connection; requests handled in-process (app.handle) have none: 'local'. */
export const clientByAddress: Identify = (request, server) => server?.requestIP(request)?.address ?? 'local'
