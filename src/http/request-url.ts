/**
 * The URL of a request as every hook may read it. Bun hands an HTTP/1.0 request without a Host header a bare
 * path (`/tasks?x=1`) as `request.url`, which `new URL()` alone rejects; such requests are served (see
 * src/http/guard.ts), so everything that reads the path goes through here.
 *
 * @example
 * requestUrl(request).pathname // '/tasks'
 */
export const requestUrl = (request: Request): URL => new URL(request.url, 'http://localhost')
