/**
 * Deprecated Python servers: start, stop and list learner programs that listen on a loopback port. Kept for old
 * clients; every route is marked deprecated in the OpenAPI document.
 */
import { Elysia } from 'elysia'
import type { Server } from 'elysia/universal'
import type { Identify } from '../http/client'
import type { ServerManagerSettings } from './manager'
import { AppError, errorResponses } from '../errors'
import type { Logger } from '../logging'
import type { Sandbox } from '../sandbox'
import { createServerManager as createManager, type ServerManager } from './manager'
import { TOKEN_HEADER, type Caller } from './owner'
import {
  OwnerHeaders,
  PythonServerList,
  ServerOutput,
  ServerPort,
  StartServerRequest,
  StartServerResponse,
  StopServerRequest,
  StopServerResponse,
} from './model'

/** The settings this module reads (src/config.ts documents each). */
export interface ServersSettings extends ServerManagerSettings {
  MAX_CODE_BYTES: number
}

/** The manager on the shared sandbox (the same one executions run in). */
export function createServerManager(config: ServersSettings, logger: Logger, sandbox: Sandbox): ServerManager {
  return createManager({ config, logger, sandbox })
}

const TAGS = ['Python servers (deprecated)']

const deprecated = (summary: string, description: string) => ({
  summary,
  description: `${description} Deprecated: kept for old clients.`,
  deprecated: true,
  tags: TAGS,
})

interface ServersDeps {
  config: ServersSettings
  servers: ServerManager
  logger: Logger
  identify: Identify
}

export const servers = ({ config, servers: manager, identify }: ServersDeps) => {
  const caller = (request: Request, server: Server | null): Caller => ({
    client: identify(request, server),
    token: request.headers.get(TOKEN_HEADER) ?? undefined,
  })
  return new Elysia({ name: 'servers' })
    .post(
      '/api/start-python-server',
      async ({ body, request, server }) => {
        const code = body.pythonCode ?? ''
        if (!code.trim()) throw new AppError('validation_error', 400, 'pythonCode is required and must not be empty')
        if (Buffer.byteLength(code) > config.MAX_CODE_BYTES) {
          throw new AppError('payload_too_large', 413, `pythonCode is larger than ${config.MAX_CODE_BYTES} bytes`)
        }
        const started = await manager.start(code, body.port ?? 5000, identify(request, server))
        const { server: info, listening, token: owner_token } = started
        const { port, processId } = info
        if (info.status === 'stopped') {
          const how = info.exitCode === null ? `was ${info.stopReason}` : `exited with code ${info.exitCode}`
          return {
            success: false as const,
            error_type: 'runtime_error' as const,
            error: `The program ${how} before it listened on port ${port}; see output_tail`,
            port,
            processId,
            exitCode: info.exitCode,
            output_tail: info.output_tail ?? '',
            owner_token,
          }
        }
        const message = listening
          ? `Python server started on port ${port}`
          : `Python server started on port ${port}; it does not listen yet`
        return { success: true as const, port, processId, message, listening, owner_token }
      },
      {
        body: StartServerRequest,
        response: { 200: StartServerResponse, ...errorResponses(400, 409, 429, 503) },
        detail: deprecated(
          'Start a Python server',
          'Runs the program in the sandbox (no network) with PORT set; the backend listens on 127.0.0.1:PORT and ' +
            'relays each connection into the sandbox. A program that only defines @endpoint functions is served ' +
            'over HTTP: JSON object body or query string as arguments, `{"result": ...}` back. Answers once the ' +
            'program listens (or after 10 s at most, with `listening: false`); a program that ends before it ' +
            'listens is a 200 with `success: false`. The answer carries `owner_token`: stop and output need it ' +
            '(X-Server-Token header) unless they come from the same client. Port outside ' +
            'SERVERS_PORT_MIN..MAX: 400; port taken: 409; SERVERS_MAX running, or SERVERS_PER_CLIENT of yours: 429. ' +
            'At most SERVERS_MAX_CONNECTIONS connections at once (further ones are closed at once). Stopped ' +
            'after SERVERS_LIFETIME_S.',
        ),
      },
    )
    .post(
      '/api/stop-python-server',
      async ({ body, request, server }) => {
        await manager.stop(body.port, caller(request, server))
        return { success: true as const, message: `Python server on port ${body.port} stopped` }
      },
      {
        body: StopServerRequest,
        headers: OwnerHeaders,
        response: { 200: StopServerResponse, ...errorResponses(403, 404) },
        detail: deprecated(
          'Stop a Python server',
          'Kills the server and everything it started; 404 if none runs; 403 `not_owner` unless you started it ' +
            '(its owner_token in X-Server-Token, or no token from the same client).',
        ),
      },
    )
    .get('/api/list-python-servers', ({ request, server }) => ({ servers: manager.list(identify(request, server)) }), {
      response: { 200: PythonServerList, ...errorResponses() },
      detail: deprecated(
        'List Python servers',
        "Running servers and recently stopped ones, everyone's; the output tail only of servers you started.",
      ),
    })
    .get(
      '/api/python-servers/:port/output',
      ({ params, request, server }) => manager.output(params.port, caller(request, server)),
      {
        params: ServerPort,
        headers: OwnerHeaders,
        response: { 200: ServerOutput, ...errorResponses(403, 404) },
        detail: deprecated(
          'Output of a Python server',
          'The last 64 KB of stdout and stderr of a known server; 403 `not_owner` as for stop.',
        ),
      },
    )
}
