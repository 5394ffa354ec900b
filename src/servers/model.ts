/** Schemas of the deprecated Python server routes (docs/api.md, "Python servers (deprecated)"); extra fields are ours. */
import { t } from 'elysia'

const OwnerToken = t.String({
  description:
    'Proves that you started this server: send it in the X-Server-Token header to stop it or read its output. ' +
    'Without the header, only the client that started the server (same address or key) may.',
  examples: ['q3H0bW9vS2V5LXRva2VuLTE'],
})

/** The optional X-Server-Token header of stop and output. */
export const OwnerHeaders = t.Object(
  { 'x-server-token': t.Optional(t.String({ description: 'The owner_token the start answered with.' })) },
  { additionalProperties: true },
)

export const StartServerRequest = t.Object(
  {
    pythonCode: t.Optional(
      t.String({ description: 'The program. It gets PORT in its environment; empty code is a 400.' }),
    ),
    port: t.Optional(
      t.Integer({ default: 5000, description: 'Loopback port within SERVERS_PORT_MIN..SERVERS_PORT_MAX.' }),
    ),
  },
  {
    title: 'StartServerRequest',
    examples: [{ pythonCode: "@endpoint\ndef hello(name='world'):\n    return 'hi ' + name\n", port: 5000 }],
  },
)
export type StartServerRequest = typeof StartServerRequest.static

export const ServerStarted = t.Object(
  {
    success: t.Literal(true),
    port: t.Integer(),
    processId: t.Integer(),
    message: t.String(),
    listening: t.Boolean({
      description: 'Whether the program listened on PORT before this answer (start waits a few seconds for it).',
    }),
    owner_token: OwnerToken,
  },
  { title: 'ServerStarted' },
)

export const ServerStartFailed = t.Object(
  {
    success: t.Literal(false),
    error: t.String(),
    error_type: t.Literal('runtime_error'),
    port: t.Integer(),
    processId: t.Integer(),
    exitCode: t.Union([t.Integer(), t.Null()]),
    output_tail: t.String(),
    owner_token: OwnerToken,
  },
  {
    title: 'ServerStartFailed',
    description: "The learner's program ended before it listened on PORT: not a server fault, so a 200.",
  },
)

export const StartServerResponse = t.Union([ServerStarted, ServerStartFailed], { title: 'StartServerResponse' })

export const StopServerRequest = t.Object({ port: t.Integer() }, { title: 'StopServerRequest' })
export const StopServerResponse = t.Object(
  { success: t.Literal(true), message: t.String() },
  { title: 'StopServerResponse' },
)

export const StopReason = t.Union(
  [t.Literal('stopped'), t.Literal('exited'), t.Literal('lifetime'), t.Literal('shutdown')],
  {
    description:
      'stopped: by stop-python-server; exited: the program ended on its own; lifetime: SERVERS_LIFETIME_S ' +
      'passed; shutdown: the backend closed.',
  },
)
export type StopReason = typeof StopReason.static

export const PythonServer = t.Object(
  {
    port: t.Integer(),
    processId: t.Integer(),
    status: t.Union([t.Literal('running'), t.Literal('stopped')]),
    startTime: t.String({ format: 'date-time' }),
    stopTime: t.Union([t.String({ format: 'date-time' }), t.Null()]),
    stopReason: t.Union([StopReason, t.Null()]),
    exitCode: t.Union([t.Integer(), t.Null()], { description: "The program's exit code when it ended on its own." }),
    sandboxed: t.Boolean(),
    owned: t.Boolean({ description: 'Whether you started it (same client address or key).' }),
    output_tail: t.Optional(
      t.String({
        description: 'The last 4 KB of stdout and stderr, only of your own servers; the output route has 64 KB.',
      }),
    ),
  },
  { title: 'PythonServer' },
)
export type PythonServer = typeof PythonServer.static

export const PythonServerList = t.Object(
  {
    servers: t.Array(PythonServer, {
      description: "Running servers and the most recently stopped ones, everyone's; output only of your own.",
    }),
  },
  { title: 'PythonServerList' },
)

export const ServerPort = t.Object({ port: t.Integer({ minimum: 1, maximum: 65535 }) }, { title: 'ServerPort' })

export const ServerOutput = t.Object(
  {
    port: t.Integer(),
    status: t.Union([t.Literal('running'), t.Literal('stopped')]),
    output_tail: t.String({ description: 'The last 64 KB of stdout and stderr, interleaved as they arrived.' }),
  },
  { title: 'PythonServerOutput' },
)
