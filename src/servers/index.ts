/**
 * Deprecated Python servers: start, stop and list learner programs that listen on a loopback port. Kept for old
 * clients; every route is marked deprecated in the OpenAPI document.
 */
import { Elysia } from 'elysia'
import type { Config } from '../config'
import { AppError, errorResponses } from '../errors'
import type { Logger } from '../logging'
import type { Sandbox } from '../sandbox'
import { createServerManager as createManager, type ServerManager } from './manager'
import {
  PythonServerList,
  ServerOutput,
  ServerPort,
  StartServerRequest,
  StartServerResponse,
  StopServerRequest,
  StopServerResponse,
} from './model'

/** The manager on the shared sandbox (the same one executions run in). */
export function createServerManager(config: Config, logger: Logger, sandbox: Sandbox): ServerManager {
  return createManager({ config, logger, sandbox })
}

const TAGS = ['Python servers (deprecated)']

const deprecated = (summary: string, description: string) => ({
  summary,
  description: `${description} Deprecated: kept for old clients.`,
  deprecated: true,
  tags: TAGS,
})

export const servers = ({ config, servers: manager }: { config: Config; servers: ServerManager; logger: Logger }) =>
  new Elysia({ name: 'servers' })
    .post(
      '/api/start-python-server',
      async ({ body }) => {
        const code = body.pythonCode ?? ''
        if (!code.trim()) throw new AppError('validation_error', 400, 'pythonCode is required and must not be empty')
        if (Buffer.byteLength(code) > config.MAX_CODE_BYTES) {
          throw new AppError('payload_too_large', 413, `pythonCode is larger than ${config.MAX_CODE_BYTES} bytes`)
        }
        const { server, listening } = await manager.start(code, body.port ?? 5000)
        const { port, processId } = server
        if (server.status === 'stopped') {
          const how = server.exitCode === null ? `was ${server.stopReason}` : `exited with code ${server.exitCode}`
          return {
            success: false as const,
            error_type: 'runtime_error' as const,
            error: `The program ${how} before it listened on port ${port}; see output_tail`,
            port,
            processId,
            exitCode: server.exitCode,
            output_tail: server.output_tail,
          }
        }
        const message = listening
          ? `Python server started on port ${port}`
          : `Python server started on port ${port}; it does not listen yet`
        return { success: true as const, port, processId, message, listening }
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
            'listens is a 200 with `success: false`. Port outside SERVERS_PORT_MIN..MAX: 400; port taken: 409; ' +
            'SERVERS_MAX already running: 429. Stopped after SERVERS_LIFETIME_S.',
        ),
      },
    )
    .post(
      '/api/stop-python-server',
      async ({ body }) => {
        await manager.stop(body.port)
        return { success: true as const, message: `Python server on port ${body.port} stopped` }
      },
      {
        body: StopServerRequest,
        response: { 200: StopServerResponse, ...errorResponses(404) },
        detail: deprecated('Stop a Python server', 'Kills the server and everything it started; 404 if none runs.'),
      },
    )
    .get('/api/list-python-servers', () => ({ servers: manager.list() }), {
      response: { 200: PythonServerList, ...errorResponses() },
      detail: deprecated('List Python servers', 'Running servers and recently stopped ones, with their output tail.'),
    })
    .get('/api/python-servers/:port/output', ({ params }) => manager.output(params.port), {
      params: ServerPort,
      response: { 200: ServerOutput, ...errorResponses(404) },
      detail: deprecated('Output of a Python server', 'The last 64 KB of stdout and stderr of a known server.'),
    })
