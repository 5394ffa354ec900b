/**
 * Deprecated Python servers: start, stop and list learner programs that listen on a loopback port.
 * Kept for old clients; every route is marked deprecated in the OpenAPI document.
 */
import { Elysia, t } from 'elysia'
import type { Config } from '../config'
import { AppError, errorResponses } from '../errors'
import type { Logger } from '../logging'
import { createServerManager as createManager, type ServerManager } from './manager'
import { probeSandbox } from '../execution/probe'

export function createServerManager(config: Config, logger: Logger): ServerManager {
  let probe: Promise<boolean> | undefined
  const sandbox = () => (probe ??= probeSandbox(config.PYTHON_BIN).then((result) => result.available))
  return createManager({ config, logger, sandbox })
}

export const StartServerRequest = t.Object(
  {
    pythonCode: t.Optional(t.String({ description: 'The program; it gets PORT in its environment.' })),
    port: t.Optional(t.Integer({ default: 5000, description: 'Loopback port, within SERVERS_PORT_MIN..MAX' })),
  },
  { title: 'StartServerRequest' },
)

export const StartServerResponse = t.Object(
  { success: t.Literal(true), port: t.Integer(), processId: t.Integer(), message: t.String() },
  { title: 'StartServerResponse' },
)

export const StopServerRequest = t.Object({ port: t.Integer() }, { title: 'StopServerRequest' })
export const StopServerResponse = t.Object({ success: t.Literal(true), message: t.String() }, { title: 'StopServerResponse' })

export const PythonServer = t.Object(
  {
    port: t.Integer(),
    processId: t.Integer(),
    status: t.Union([t.Literal('running'), t.Literal('stopped')]),
    startTime: t.String({ format: 'date-time' }),
    stopTime: t.Union([t.String({ format: 'date-time' }), t.Null()]),
    exitCode: t.Union([t.Integer(), t.Null()]),
    sandboxed: t.Boolean(),
    output_tail: t.String({ description: 'The last 64 KB of stdout and stderr.' }),
  },
  { title: 'PythonServer' },
)
export const ServerList = t.Object({ servers: t.Array(PythonServer) }, { title: 'PythonServerList' })

const deprecated = (summary: string, description: string) => ({
  summary,
  description: `${description} Deprecated: kept for old clients.`,
  deprecated: true,
})

export const servers = ({ config, servers: manager }: { config: Config; servers: ServerManager; logger: Logger }) =>
  new Elysia({ name: 'servers', tags: ['Python servers (deprecated)'] })
    .post(
      '/api/start-python-server',
      async ({ body }) => {
        const code = body.pythonCode ?? ''
        if (!code.trim()) throw new AppError('validation_error', 400, 'pythonCode is required and must not be empty')
        if (Buffer.byteLength(code) > config.MAX_CODE_BYTES) {
          throw new AppError('payload_too_large', 413, `pythonCode is larger than ${config.MAX_CODE_BYTES} bytes`)
        }
        const server = await manager.start(code, body.port ?? 5000)
        return {
          success: true as const,
          port: server.port,
          processId: server.processId,
          message: `Python server started on port ${server.port}`,
        }
      },
      {
        body: StartServerRequest,
        response: { 200: StartServerResponse, ...errorResponses(400, 409, 429, 503) },
        detail: deprecated(
          'Start a Python server',
          'Runs the program in the sandbox with PORT set; the backend relays 127.0.0.1:PORT to it. A program that ' +
            'only defines @endpoint functions is served over HTTP (JSON body or query string as arguments). ' +
            'Stopped after SERVERS_LIFETIME_S.',
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
        detail: deprecated('Stop a Python server', 'Kills the server and everything it started.'),
      },
    )
    .get('/api/list-python-servers', () => ({ servers: manager.list() }), {
      response: { 200: ServerList, ...errorResponses() },
      detail: deprecated('List Python servers', 'Running servers and recently stopped ones, with their output tail.'),
    })
