/**
 * The one place that reads the environment. Every setting is declared once in `SETTINGS` with its schema,
 * default and a one-line description; `.env.template` and the table in docs/configuration.md are checked against this list by
 * a test, so the three never drift apart.
 *
 * Bun loads a `.env` file into the environment on start (real environment variables win), so `loadConfig`
 * only has to read the object it is given.
 *
 * @example
 * const config = loadConfig(process.env) // throws ConfigError naming every bad variable
 */
import { availableParallelism } from 'node:os'
import { Type as t, type Static, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

interface Setting<S extends TSchema> {
  schema: S
  default: Static<S> | undefined
  doc: string
  /** Shown in the template instead of the default (e.g. for CPU-dependent values). */
  example?: string
  secret?: boolean
}

const setting = <S extends TSchema>(
  schema: S,
  defaultValue: Static<S> | undefined,
  doc: string,
  extra: Pick<Setting<S>, 'example' | 'secret'> = {},
): Setting<S> => ({ schema, default: defaultValue, doc, ...extra })

const Int = (minimum: number, maximum = Number.MAX_SAFE_INTEGER) => t.Integer({ minimum, maximum })
const Url = t.String({ pattern: '^https?://', description: 'an http(s) URL' })
const Optional = <S extends TSchema>(schema: S) => t.Union([schema, t.Undefined()])

// A DNS name, an IPv4 address or an IPv6 address (bracketed or not); no port.
const HOST_NAME = '([A-Za-z0-9_.-]+|\\[[0-9A-Fa-f:.]+\\]|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)'
const MiB = 1024 * 1024
const cpus = availableParallelism()

/** The settings by section, as docs/configuration.md shows them; each feature reads only its own (see app.ts). */
const SERVER = {
  HOST: setting(
    t.String({ minLength: 1 }),
    '127.0.0.1',
    'Interface the server listens on; 0.0.0.0 (all) in a container or behind a proxy, with ALLOWED_HOSTS set.',
  ),
  PORT: setting(Int(0, 65535), 4828, 'TCP port (0 picks a free one).'),
  LOG_LEVEL: setting(
    t.Union([t.Literal('debug'), t.Literal('info'), t.Literal('warn'), t.Literal('error'), t.Literal('silent')]),
    'info',
    'Lowest level written to the JSON log on stdout: debug, info, warn, error or silent.',
  ),
  CORS_ORIGINS: setting(
    t.String(),
    'http://localhost:3000,http://127.0.0.1:3000,http://localhost:*,http://127.0.0.1:*',
    'Comma-separated browser origins that may call the API (others get 403 on state-changing requests and no ' +
      'CORS headers); `*` as the port allows any port, a lone `*` allows all (never with credentials).',
  ),
  ALLOWED_HOSTS: setting(
    Optional(
      t.String({
        pattern: `^\\s*(\\*|${HOST_NAME}(\\s*,\\s*${HOST_NAME})*)\\s*,?\\s*$`,
        description: 'a comma list of host names or addresses without ports, or *',
      }),
    ),
    undefined,
    'Host names the server answers to (Host header, any port; 421 otherwise, against DNS rebinding); ' +
      'unset means these plus HOST unless it is a wildcard; `*` turns the check off.',
    { example: 'localhost,127.0.0.1,[::1]' },
  ),
  MAX_BODY_BYTES: setting(Int(1024), 2 * MiB, 'Largest request body accepted by ordinary routes (413 beyond).'),
  MAX_BODY_DEPTH: setting(
    Int(8, 512),
    64,
    'Deepest nesting of arrays and objects accepted in a JSON body or chat frame (400 body_too_deep beyond).',
  ),
  JUDGE_MAX_BODY_BYTES: setting(Int(1024), 25 * MiB, 'Largest request body accepted by /api/llm-judge (screenshots).'),
  BUN_CONFIG_MAX_HTTP_REQUESTS: setting(
    Int(1, 65536),
    256,
    'Read by Bun itself at process start: outgoing HTTP requests at once (each streaming chat holds one); ' +
      '`bun run start`/`dev` set 4096, set it yourself for the binary.',
  ),
  SHUTDOWN_GRACE_MS: setting(Int(0), 5_000, 'On SIGTERM/SIGINT, how long in-flight requests may finish.'),
} as const

type Settings = typeof SETTINGS
export type Config = { readonly [K in keyof Settings]: Static<Settings[K]['schema']> }
export type ConfigKey = keyof Settings

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

const ACCESS = {
  API_KEYS: setting(
    Optional(t.String()),
    undefined,
    'Access keys, comma-separated `name:key` pairs (or bare keys, named key-1, key-2, ...); with any key set, ' +
      'every route but /, /health and /openapi needs `Authorization: Bearer <key>`. No key and no JWT setting: open to anyone.',
    { secret: true },
  ),
  API_KEYS_FILE: setting(
    Optional(t.String({ minLength: 1 })),
    undefined,
    'File of hashed access keys, added to API_KEYS: JSON `[{"name","hash":"sha256:<hex>","role"?}]` or lines ' +
      '`name sha256:<hex> [role]`; role is learner (default) or admin.',
  ),
  JWT_SECRET: setting(
    Optional(t.String({ minLength: 32, description: 'at least 32 characters' })),
    undefined,
    'Shared secret (at least 32 characters) for HS256 JSON Web Tokens sent as `Authorization: Bearer <jwt>`: the ' +
      "token's `sub` is the client, `exp` is required and honoured. Set this or JWT_JWKS_URL (or both) for IDEs that sign in their learners.",
    { secret: true },
  ),
  JWT_JWKS_URL: setting(
    Optional(Url),
    undefined,
    "URL of the JSON Web Key Set that signs learners' tokens (RS256, ES256, PS256, EdDSA; fetched with a 5 s " +
      'limit, cached 10 min); https, or http on a loopback address only.',
  ),
  JWT_ISSUER: setting(
    Optional(t.String({ minLength: 1 })),
    undefined,
    'When set, a JWT must carry this `iss` (401 otherwise).',
  ),
  JWT_AUDIENCE: setting(
    Optional(t.String({ minLength: 1 })),
    undefined,
    'When set, a JWT must name this `aud` (401 otherwise); set it with a shared identity provider, whose tokens ' +
      'for other applications would pass too.',
  ),
  RATE_EXECUTION_PER_MIN: setting(
    Int(0),
    120,
    'Requests one client may send per minute to execute-endpoint, execute-test-cases, validate-python and grade (429 beyond); 0: no limit.',
  ),
  RATE_CHAT_PER_MIN: setting(
    Int(0),
    30,
    'POST /api/chat requests plus /ws/chat connections one client may open per minute; 0: no limit.',
  ),
  RATE_JUDGE_PER_MIN: setting(Int(0), 20, '/api/llm-judge requests one client may send per minute; 0: no limit.'),
  RATE_SERVERS_PER_MIN: setting(
    Int(0),
    10,
    'start-python-server requests one client may send per minute; 0: no limit.',
  ),
  CONCURRENT_EXECUTIONS_PER_CLIENT: setting(
    Int(0),
    8,
    'Requests to execute-endpoint, execute-test-cases, validate-python and grade one client may have in flight at once (429 beyond); 0: no limit.',
  ),
  CONCURRENT_SOCKETS_PER_CLIENT: setting(
    Int(0),
    8,
    '/ws/chat connections one client may hold open at once (further ones are closed with 4429); 0: no limit.',
  ),
  AI_TOKENS_PER_DAY: setting(
    Int(0),
    0,
    'Model tokens (prompt + completion, as the provider reports them) one client may use per UTC day in chat and the judge (429, or an error frame quota_exceeded, beyond); 0: no budget.',
  ),
  AI_MAX_TOKENS: setting(
    Int(1, 200_000),
    4096,
    'Cap on max_tokens of every model request (a larger max_tokens in a chat request is lowered to it).',
  ),
  REDIS_URL: setting(
    Optional(t.String({ pattern: '^(redis|rediss|valkey|valkeys)://', description: 'a redis:// or rediss:// URL' })),
    undefined,
    'Redis holding the rate limits, quotas and token budgets, shared by every replica; unset: in memory, per process. ' +
      'While Redis is unreachable each replica counts on its own and /health says degraded.',
    { secret: true, example: 'redis://127.0.0.1:6379' },
  ),
  REDIS_TIMEOUT_MS: setting(
    Int(10, 60_000),
    500,
    'Time Redis has to answer one command (or a connection attempt) before the per-replica fallback takes over.',
  ),
}

const AI = {
  OPENAI_API_KEY: setting(Optional(t.String()), undefined, 'Key for OpenAI or an OpenAI-compatible server.', {
    secret: true,
  }),
  OPENAI_BASE_URL: setting(
    Optional(Url),
    undefined,
    'Base URL of an OpenAI-compatible API (Ollama, vLLM, OpenRouter); empty means api.openai.com.',
    { example: 'http://127.0.0.1:11434/v1' },
  ),
  ANTHROPIC_API_KEY: setting(Optional(t.String()), undefined, 'Key for Anthropic (models named claude-*).', {
    secret: true,
  }),
  ANTHROPIC_BASE_URL: setting(Optional(Url), undefined, 'Base URL of the Anthropic API; empty means the default.'),
  DEFAULT_MODEL: setting(t.String({ minLength: 1 }), 'gpt-4o-mini', 'Chat model used when a request names none.'),
  JUDGE_MODEL: setting(t.String({ minLength: 1 }), 'gpt-4o', 'Vision model used by the LLM judge.'),
  CHAT_HEARTBEAT_MS: setting(
    Int(1000),
    25_000,
    'Interval of WebSocket pings that keep idle proxies from cutting /ws/chat.',
  ),
  TUTOR_CONTEXT_CHARS: setting(
    Int(2000, 2_000_000),
    24_000,
    'Characters a tutored chat request about a task may send the model (instructions, files, last attempt, earlier ' +
      'turns); over it the least useful parts are cut first.',
  ),
  TUTOR_MAX_CODE_LINES: setting(
    Int(0, 200),
    6,
    'Lines of code one tutor answer may show at hint level 4 (below 4: none); code beyond them is cut while streaming.',
  ),
}

const EXECUTION = {
  USE_LOCAL_EXECUTION: setting(t.Boolean(), true, 'true: run Python locally in the sandbox; false: use OneCompiler.'),
  RAPIDAPI_KEY: setting(Optional(t.String()), undefined, 'RapidAPI key for OneCompiler (remote execution).', {
    secret: true,
  }),
  ONECOMPILER_URL: setting(Url, 'https://onecompiler-apis.p.rapidapi.com', 'Base URL of the OneCompiler API.'),
  ONECOMPILER_TIMEOUT_MS: setting(Int(100), 20_000, 'Time limit of one OneCompiler API call.'),
  SANDBOX: setting(
    t.Union([t.Literal('auto'), t.Literal('required'), t.Literal('off')]),
    'auto',
    'auto: use bubblewrap when present (warn loudly if not); required: refuse to run code without it; off: never use it.',
  ),
  SANDBOX_UID_BASE: setting(
    Int(1000, 4_000_000_000),
    100_000,
    'As root, each running sandbox gets its own host uid from this one up (reserve about 2 x (EXEC_CONCURRENCY + ' +
      'EXEC_POOL_SIZE + SERVERS_MAX + BROWSER_CONCURRENCY) + 20 uids no one else uses).',
  ),
  PYTHON_BIN: setting(t.String({ minLength: 1 }), '/usr/bin/python3', 'Python interpreter that runs learner code.'),
  MAX_CODE_BYTES: setting(Int(1), 1 * MiB, 'Largest learner program accepted (413 beyond).'),
  EXEC_TIMEOUT_MS: setting(Int(100), 5_000, 'Wall-clock limit of one call or one test case.'),
  EXEC_MEMORY_MB: setting(Int(32), 256, 'Address-space limit of learner code.'),
  EXEC_MAX_PROCESSES: setting(
    Int(1),
    64,
    'Process and thread limit of one sandbox (rlimit, host uid and cgroup pids.max).',
  ),
  EXEC_OUTPUT_BYTES: setting(Int(1024), 1 * MiB, 'Cap on each of stdout and stderr of learner code.'),
  EXEC_RESULT_BYTES: setting(
    Int(1024),
    1 * MiB,
    'Largest result (JSON) of one call or test case; beyond it that call or case is output_limit.',
  ),
  EXEC_CHANNEL_BYTES: setting(
    Int(64 * 1024),
    8 * MiB,
    'Cap on everything one run reports back (all results and captured output of a batch together); beyond it the run is stopped as output_limit.',
  ),
  EXEC_TMPFS_MB: setting(Int(1), 16, 'Size of the private writable /tmp inside the sandbox.'),
  EXEC_CONCURRENCY: setting(Int(1), cpus, 'Sandboxes running at once.', { example: 'number of CPUs' }),
  EXEC_QUEUE_LENGTH: setting(Int(0), 64, 'Jobs allowed to wait for a slot; beyond it requests get 503 queue_full.'),
  EXEC_POOL_SIZE: setting(
    Int(0),
    2,
    'Pre-started sandboxes kept waiting for a job (0 disables the pool), on either path (see EXEC_ZYGOTE).',
  ),
  EXEC_ZYGOTE: setting(
    t.Boolean(),
    true,
    'As root with a working sandbox: start each job by forking a warm interpreter into a fresh box (same walls as bubblewrap, no interpreter start). false: bubblewrap and a new interpreter per job.',
  ),
  EXEC_TEST_PARALLELISM: setting(Int(1), Math.max(2, cpus), 'Test cases of one batch run in parallel.', {
    example: 'number of CPUs (at least 2)',
  }),
  EXEC_MAX_CASES: setting(
    Int(1),
    200,
    'Test cases one execute-test-cases or grade request may hold (413 too_many_cases beyond).',
  ),
  EXEC_BATCH_TIMEOUT_MS: setting(
    Int(100),
    30_000,
    'Limit of a whole test batch; cases it did not reach are reported as timeout. Its browser tests count only while one of them holds a browser slot (waiting for one is not counted).',
  ),
  EXEC_SLOTS_PER_CLIENT: setting(
    Optional(Int(1)),
    undefined,
    "Execution slots one client may hold at once, so others' jobs find a free one; unset: half of EXEC_CONCURRENCY, at least 1.",
    { example: 'EXEC_CONCURRENCY / 2 (at least 1)' },
  ),
  EXEC_QUEUE_PER_CLIENT: setting(
    Optional(Int(0)),
    undefined,
    'Jobs one client may have waiting, so one client cannot fill the queue (503 queue_full beyond); unset: a quarter of EXEC_QUEUE_LENGTH, at least 1.',
    { example: 'EXEC_QUEUE_LENGTH / 4 (at least 1)' },
  ),
  EXEC_CPUS: setting(Optional(Int(1)), undefined, 'CPU time of one sandbox, in CPUs (cgroup quota, where writable).', {
    example: 'EXEC_TEST_PARALLELISM',
  }),
}

const GRADING = {
  TASKS_DIR: setting(
    t.String({ minLength: 1 }),
    './tasks',
    'Folder of tasks; relative paths resolve against the working directory, then next to the binary.',
  ),
  TASKS_WATCH: setting(t.Boolean(), false, 'Reload tasks when files in TASKS_DIR change (`bun run dev` sets it).'),
  GRADE_TIMEOUT_MS: setting(
    Int(1000),
    120_000,
    'Limit of one POST /api/grade (endpoint, browser and design tests), counted while some of its work runs: time it only waits for a browser slot is not counted. Tests unfinished by then are timeout errors.',
  ),
  BROWSER_PATH: setting(
    t.String({ minLength: 1 }),
    '/usr/lib/chromium/chromium',
    'Chromium for browser tests (Debian: apt install chromium); when missing, browser tests are skipped (browser_unavailable).',
  ),
  BROWSER_PREWARM: setting(
    t.Boolean(),
    false,
    'true: start Chromium in the background right after the server listens, so the first grading does not wait for it.',
  ),
  BROWSER_CONCURRENCY: setting(
    Int(1, 32),
    Math.min(32, Math.max(2, cpus)),
    'Most browser tests running at once (a page each); the rest wait. Beyond two, a test starts only while the browser has memory for one more page (BROWSER_MEMORY_MB).',
    { example: 'number of CPUs (at least 2)' },
  ),
  BROWSER_TEST_TIMEOUT_MS: setting(Int(1000), 15_000, 'Wall-clock limit of one browser test, page load included.'),
  BROWSER_STEP_TIMEOUT_MS: setting(
    Int(100),
    5_000,
    'Limit of one step of a browser test (a click waiting for its element).',
  ),
  BROWSER_MEMORY_MB: setting(
    Int(128),
    1536,
    'Memory of the browser and every page it holds together (cgroup, where writable).',
  ),
  BROWSER_SCREENSHOT_MAX_HEIGHT: setting(
    Int(100, 20_000),
    4000,
    'Pixels of a long page a screenshot keeps, from the top.',
  ),
  BROWSER_SCREENSHOT_MAX_BYTES: setting(
    Int(16 * 1024),
    2 * MiB,
    'Largest screenshot PNG; a larger one is retaken at viewport height, else left out.',
  ),
}

const SERVERS = {
  SERVERS_PORT_MIN: setting(Int(1, 65535), 5000, 'Lowest port of the deprecated Python servers.'),
  SERVERS_PORT_MAX: setting(Int(1, 65535), 5099, 'Highest port of the deprecated Python servers.'),
  SERVERS_MAX: setting(Int(0), 4, 'Python servers running at once.'),
  SERVERS_PER_CLIENT: setting(Int(1), 2, 'Python servers one client may run at once (429 beyond).'),
  // At most 100: inside, each connection costs two of the sandbox's 256 file descriptors (relay and server side).
  SERVERS_MAX_CONNECTIONS: setting(
    Int(1, 100),
    32,
    'Connections one Python server holds at once; the backend closes further ones as they arrive.',
  ),
  SERVERS_LIFETIME_S: setting(Int(1), 600, 'A Python server is stopped after this many seconds.'),
}

const STORE = {
  DATABASE_URL: setting(
    Optional(
      t.String({
        pattern: '^(sqlite:.+|postgres(ql)?://.+)$',
        description: 'sqlite:<path>, sqlite::memory: or a postgres:// URL',
      }),
    ),
    undefined,
    'Where attempts, progress and tutor conversations are kept: unset → the SQLite file DATA_DIR/tutor.sqlite; ' +
      '`sqlite:<path>` or `sqlite::memory:` (forgotten at exit); `postgres://user:password@host:5432/db` → PostgreSQL, ' +
      'shared by every replica.',
    { secret: true, example: 'postgres://tutor:secret@127.0.0.1:5432/tutor' },
  ),
  DATA_DIR: setting(
    t.String({ minLength: 1 }),
    './data',
    'Folder of the default SQLite database (created when missing).',
  ),
  RETENTION_DAYS: setting(
    Int(0, 36_500),
    0,
    'Attempts and conversations older than this many days are deleted (checked at start and daily); 0 keeps everything.',
  ),
  STORE_TIMEOUT_MS: setting(
    Int(100, 120_000),
    5_000,
    'Longest a database call may take; beyond it the database counts as unreachable (a grade is answered with saved: false).',
  ),
}

export const SECTIONS = {
  server: {
    title: 'The server: where it listens, who may call it from a browser, request bodies, shutdown',
    settings: SERVER,
  },
  access: { title: 'Access: keys, tokens, per-client limits and where they are counted', settings: ACCESS },
  ai: { title: 'AI: providers, models, the chat socket and the tutor', settings: AI },
  execution: { title: 'Execution: where learner Python runs, the sandbox and its limits', settings: EXECUTION },
  grading: {
    title: 'Tasks and grading: the tasks folder, whole-task gradings, the headless browser',
    settings: GRADING,
  },
  servers: { title: 'Deprecated Python servers', settings: SERVERS },
  store: { title: 'Data: attempts, progress and conversations', settings: STORE },
}

export const SETTINGS = {
  ...SERVER,
  ...ACCESS,
  ...AI,
  ...EXECUTION,
  ...GRADING,
  ...SERVERS,
  ...STORE,
}

const TRUE = new Set(['1', 'true', 'yes', 'on'])
const FALSE = new Set(['0', 'false', 'no', 'off'])

/** Turns one raw string into the type its schema wants; returns the string unchanged when it cannot. */
function convert(schema: TSchema, raw: string): unknown {
  const kinds = JSON.stringify(schema)
  if (kinds.includes('"type":"boolean"')) {
    const lower = raw.toLowerCase()
    if (TRUE.has(lower)) return true
    if (FALSE.has(lower)) return false
    return raw
  }
  if (kinds.includes('"type":"integer"') && /^-?\d+$/.test(raw)) return Number(raw)
  return raw
}

function describe(schema: TSchema): string {
  if (schema.anyOf) {
    const literals = (schema.anyOf as TSchema[]).filter((s) => 'const' in s).map((s) => String(s.const))
    if (literals.length) return `one of ${literals.join(', ')}`
    return describe((schema.anyOf as TSchema[])[0]!)
  }
  if (schema.type === 'integer') return `an integer from ${schema.minimum} to ${schema.maximum}`
  if (schema.type === 'boolean') return 'true or false'
  return schema.description ?? 'a non-empty string'
}

/**
 * Reads and validates every setting. Empty values count as unset. Throws one ConfigError listing every
 * problem by variable name, so a bad deployment fails at start-up with a message that says what to fix.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = []
  const config: Record<string, unknown> = {}
  for (const [key, spec] of Object.entries(SETTINGS) as [ConfigKey, Setting<TSchema>][]) {
    const raw = env[key]?.trim()
    const value = raw === undefined || raw === '' ? spec.default : convert(spec.schema, raw)
    if (!Value.Check(spec.schema, value)) {
      const shown = spec.secret ? '(hidden)' : JSON.stringify(raw)
      problems.push(`${key} must be ${describe(spec.schema)} (got ${shown})`)
      continue
    }
    config[key] = value
  }
  if (problems.length === 0 && (config.SERVERS_PORT_MIN as number) > (config.SERVERS_PORT_MAX as number)) {
    problems.push('SERVERS_PORT_MIN must not be greater than SERVERS_PORT_MAX')
  }
  if (problems.length) throw new ConfigError(problems)
  return Object.freeze(config) as Config
}
