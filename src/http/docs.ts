/**
 * The OpenAPI document (generated from the route schemas) at /openapi/json and a Swagger UI at /openapi whose
 * script and stylesheet are served by us from swagger-ui-dist, so the explorer works offline and inside the
 * compiled binary (the files are embedded with `type: "file"` imports).
 */
import { Elysia } from 'elysia'
import { openapi } from '@elysiajs/openapi'
// @ts-expect-error: a plain asset; Bun's `type: "file"` import gives its path (embedded when compiled).
import swaggerBundle from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' }
// @ts-expect-error: as above
import swaggerCss from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' }

const ASSETS = '/openapi/assets'

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI fragments are free-form JSON edited in place
type Json = Record<string, any>
export interface RouteLike {
  method: string
  path: string
  hooks: { body?: unknown }
}

const toJson = (schema: unknown): Json => JSON.parse(JSON.stringify(schema))

/**
 * Fills in what the generator leaves out because our body parser is a function (src/http/body.ts): the JSON
 * request body of every route. Then names schemas: every schema with a `title` becomes a component and is
 * referenced by `$ref` (the first definition of a title wins; a different schema with the same title stays
 * inline). Works in place and is idempotent, since the generator caches the document.
 */
/** Refusals that hooks outside a route answer (e.g. a rate limit), by method and route path: status → description. */
export type ExtraResponses = (method: string, path: string) => Record<string, string>

/** Whether a route (its document path) needs an access key when keys are configured. */
export type NeedsKey = (path: string) => boolean

export function completeDocument(
  doc: Json,
  routes: RouteLike[],
  extra: ExtraResponses = () => ({}),
  needsKey: NeedsKey = () => true,
): Json {
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}')
    const operation = doc.paths?.[path]?.[route.method.toLowerCase()]
    if (!operation) continue
    addGuardResponses(operation, route.method)
    for (const [status, description] of Object.entries(extra(route.method, route.path))) {
      operation.responses[status] ??= { description, content: envelopeContent() }
    }
    if (needsKey(path)) addKeyRequirement(operation)
    if (!route.hooks.body) continue
    const content = operation.requestBody?.content
    if (content && Object.keys(content).length) continue
    operation.requestBody = { required: true, content: { 'application/json': { schema: toJson(route.hooks.body) } } }
  }
  const root: Json = (doc.components ??= {})
  root.securitySchemes = { ...root.securitySchemes, accessKey: ACCESS_KEY_SCHEME }
  const components: Json = (root.schemas ??= {})
  const hoist = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(hoist)
    if (!node || typeof node !== 'object') return node
    const object = node as Json
    for (const key of Object.keys(object)) object[key] = hoist(object[key])
    const title = object.title
    if (typeof title !== 'string' || !('type' in object || 'anyOf' in object)) return object
    const known = components[title]
    if (known === undefined) components[title] = object
    else if (JSON.stringify(known) !== JSON.stringify(object)) return object
    return { $ref: `#/components/schemas/${title}` }
  }
  doc.paths = hoist(doc.paths)
  return doc
}

const envelopeContent = () => ({ 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } })

const GUARD_RESPONSES: Record<string, string> = {
  403: 'origin_not_allowed: a state-changing request from an origin outside CORS_ORIGINS (src/http/guard.ts)',
  415: 'unsupported_media_type: a state-changing request without an allowed origin whose body is not declared JSON',
  421: 'host_not_allowed: the Host header is not one of ALLOWED_HOSTS',
}

/** The refusals of the request guard, which runs before every route: 421 everywhere, 403/415 on state changes. */
function addGuardResponses(operation: Json, method: string) {
  const responses: Json = (operation.responses ??= {})
  const changes = !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase())
  for (const [status, description] of Object.entries(GUARD_RESPONSES)) {
    if (status !== '421' && !changes) continue
    responses[status] ??= { description, content: envelopeContent() }
  }
}

const ACCESS_KEY_SCHEME = {
  type: 'http',
  scheme: 'bearer',
  description:
    'An access key or a JSON Web Token, required only when the server has API_KEYS, API_KEYS_FILE, JWT_SECRET or JWT_JWKS_URL set (src/access).',
}

/** With access keys configured, this route needs `Authorization: Bearer <key>` (src/access/index.ts). */
function addKeyRequirement(operation: Json) {
  operation.security ??= [{ accessKey: [] }]
  const responses: Json = (operation.responses ??= {})
  responses['401'] ??= {
    description:
      'unauthorized: access keys or tokens are configured and the request has no valid `Authorization: Bearer <key or token>`',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } },
  }
}

export const docs = (version: string, routes: () => RouteLike[], extra?: ExtraResponses, needsKey?: NeedsKey) =>
  new Elysia({ name: 'docs' })
    // Registered before the generator's own route so that it applies to it.
    .onAfterHandle({ as: 'global' }, ({ path, response }) => {
      if (path === '/openapi/json' && response && typeof response === 'object')
        completeDocument(response as Json, routes(), extra, needsKey)
    })
    .use(
      openapi({
        path: '/openapi',
        specPath: '/openapi/json',
        provider: 'swagger-ui',
        swagger: { cdn: `${ASSETS}/swagger-ui-bundle.js`, theme: `${ASSETS}/swagger-ui.css` },
        // staticFile: false keeps routes with a dot in their path (GET /api/admin/grades.csv) in the document.
        exclude: { paths: [/^\/openapi/], staticFile: false },
        documentation: {
          info: {
            title: 'AI Coding Tutor Backend',
            version,
            description:
              'Chat assistant, sandboxed Python execution and grading, tasks and an LLM judge for a browser IDE. ' +
              'Every 4xx/5xx answers with the ErrorEnvelope.',
          },
          tags: [
            { name: 'General', description: 'Liveness and health' },
            { name: 'Chat', description: 'AI assistant (the WebSocket /ws/chat is described in docs/api.md)' },
            { name: 'Python execution', description: 'Run, grade and validate learner Python in a sandbox' },
            { name: 'Tasks', description: 'Tasks, test cases and their assets' },
            { name: 'LLM judge', description: 'Vision model grading of page screenshots' },
            { name: 'Python servers (deprecated)', description: 'Kept for old clients' },
          ],
        },
      }),
    )
    .get(`${ASSETS}/swagger-ui-bundle.js`, () => new Response(Bun.file(swaggerBundle as string)), {
      detail: { hide: true },
    })
    .get(`${ASSETS}/swagger-ui.css`, () => new Response(Bun.file(swaggerCss as string)), { detail: { hide: true } })
