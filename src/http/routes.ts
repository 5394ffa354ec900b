/**
 * Which of the app's routes a request is for, before the router has run: the rate limits, the audit, the body
 * limits and the metrics are keyed on it. Elysia also routes `/x/` to `/x` (and `/x?y` to `/x`), so a limit
 * keyed on the exact spelling of a path was skipped by adding a slash; everything that keys on a route asks here.
 *
 * @example
 * const routeOf = routeResolver(() => app.routes.map((route) => route.path))
 * routeOf('/api/grade/') // '/api/grade'
 * routeOf('/tasks/Tic%20Tac%20Toe') // '/tasks/:task_name'
 */

/** A path as the router reads it: one trailing slash does not make another route. */
export const canonicalPath = (path: string): string =>
  path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path

/** The pattern of the app's route a path belongs to, from the patterns (`/tasks/:task_name`) the app defines. */
export function routeMatcher(patterns: string[]): (path: string) => string | undefined {
  const exact = new Set(patterns.filter((pattern) => !/[:*]/.test(pattern)))
  const shaped = patterns
    .filter((pattern) => !exact.has(pattern))
    .map((pattern) => ({
      pattern,
      regex: new RegExp(
        `^${pattern
          .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
          .replace(/:[^/]+/g, '[^/]+')
          .replace(/\*/g, '.*')}$`,
      ),
    }))
  return (path) => (exact.has(path) ? path : shaped.find(({ regex }) => regex.test(path))?.pattern)
}

/**
 * The route pattern a path belongs to, whatever its spelling; undefined when the app has no such route. The
 * patterns are read once, the first time a path is resolved (the route table is complete by then).
 */
export function routeResolver(patterns: () => string[]): (path: string) => string | undefined {
  let match: ((path: string) => string | undefined) | undefined
  return (path) => (match ??= routeMatcher(patterns()))(canonicalPath(path))
}
