/**
 * A body checked against its route's schema inside the body parser, before Elysia sees it. Elysia's own
 * validation error walks and stringifies the whole value to build its message (1.8 MB of `[1,1,…]` sent to
 * /api/chat held the event loop for 2.5 s); here a failing body costs one compiled check and the first few errors
 * of a lazy iterator, and the answer names paths and expectations, never the value sent.
 *
 * @example
 * const schemaOf = bodySchemas(() => app.routes, routeOf)
 * checkBody(schemaOf('POST', '/api/chat')!, { messages: 5 }) // AppError validation_error, details.errors[0].path '/messages'
 */
import { CloneType, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { AppError, describeValidation, type ValidationIssue } from '../errors'

/** At most this many fields are named in one answer. */
const MAX_ISSUES = 20

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>()

/**
 * Elysia removes fields a schema does not name before it validates (it marks its schemas `additionalProperties:
 * false` for that, and cleans): an unknown field is never an error. The copy checked here tolerates them too.
 */
function tolerant(schema: TSchema): TSchema {
  const copy = CloneType(schema)
  const open = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(open)
      return
    }
    if (typeof node !== 'object' || node === null) return
    const record = node as Record<string, unknown>
    if (record.additionalProperties === false) delete record.additionalProperties
    Object.values(record).forEach(open)
  }
  open(copy)
  return copy
}

function checkerOf(schema: TSchema): TypeCheck<TSchema> {
  let checker = compiled.get(schema)
  if (!checker) compiled.set(schema, (checker = TypeCompiler.Compile(tolerant(schema))))
  return checker
}

/** undefined when `value` fits `schema`; else the 422 validation_error to answer. */
export function checkBody(schema: TSchema, value: unknown): AppError | undefined {
  const checker = checkerOf(schema)
  if (checker.Check(value)) return undefined
  const seen = new Set<string>()
  const errors: ValidationIssue[] = []
  for (const issue of checker.Errors(value)) {
    const path = issue.path || '/'
    if (seen.has(path)) continue // a union reports each branch; the first message per field is the useful one
    seen.add(path)
    errors.push({ path, message: issue.message })
    if (errors.length === MAX_ISSUES) break
  }
  const details = { where: 'body', errors }
  return new AppError('validation_error', 422, describeValidation(details), details)
}

interface RouteWithBody {
  method: string
  path: string
  hooks?: { body?: unknown }
}

/** method + route pattern → the route's body schema, read once from the finished route table. */
export function bodySchemas(
  routes: () => RouteWithBody[],
  routeOf: (path: string) => string | undefined,
): (method: string, path: string) => TSchema | undefined {
  let table: Map<string, TSchema> | undefined
  const build = () =>
    new Map(
      routes()
        .filter((route) => typeof route.hooks?.body === 'object' && route.hooks.body !== null)
        .map((route) => [`${route.method} ${route.path}`, route.hooks!.body as TSchema]),
    )
  return (method, path) => {
    const route = routeOf(path)
    return route === undefined ? undefined : (table ??= build()).get(`${method} ${route}`)
  }
}
