/**
 * The playground page at /play: the HTML (a fresh style nonce per response), its hashed assets under
 * /play/assets/ (cached for a year, immutable, gzip or brotli as the browser accepts) and /play/preview, the
 * empty page the learner's front end is written into inside a sandboxed iframe. All three are public
 * (src/access isPublic): the page asks for an access key itself when the API answers 401.
 *
 * @example
 * app.use(web())
 */
import { Elysia, t } from 'elysia'
import { AppError, errorResponses } from '../errors'
import { type Asset, loadPageBundle, STYLE_NONCE } from './bundle'
import { PREVIEW_PAGE, PREVIEW_POLICY } from './preview-shell'

/**
 * The page runs only its own bundled script; styles are its own file plus the <style> elements CodeMirror
 * creates, which carry this response's nonce. It talks to this server only (fetch and the chat socket), shows
 * images from data: URLs (instructions, failure screenshots) and frames only the preview page.
 */
export const pagePolicy = (nonce: string) =>
  [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "frame-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')

type Encoding = 'br' | 'gzip' | 'identity'

/** The best encoding the client accepts (brotli, else gzip); a `;q=0` entry refuses that encoding. */
export function pickEncoding(acceptEncoding: string | null): Encoding {
  const accepted = new Map<string, number>()
  for (const part of (acceptEncoding ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean)
    if (name) accepted.set(name, q === undefined ? 1 : Number(q))
  }
  const allows = (name: string) => (accepted.get(name) ?? accepted.get('*') ?? 0) > 0
  if (allows('br')) return 'br'
  if (allows('gzip')) return 'gzip'
  return 'identity'
}

const COMMON = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' }

function assetResponse(asset: Asset, accepted: Encoding): Response {
  const encoding = accepted === 'br' && !asset.br ? 'gzip' : accepted
  const body = encoding === 'br' ? asset.br! : encoding === 'gzip' ? asset.gzip : asset.body
  return new Response(body, {
    headers: {
      ...COMMON,
      'content-type': asset.contentType,
      'cache-control': 'public, max-age=31536000, immutable',
      vary: 'Accept-Encoding',
      ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }),
    },
  })
}

function htmlResponse(html: string, policy: string, encoding: Encoding): Response {
  const headers: Record<string, string> = {
    ...COMMON,
    'content-type': 'text/html;charset=utf-8',
    'cache-control': 'no-cache',
    'content-security-policy': policy,
    vary: 'Accept-Encoding',
  }
  if (encoding === 'identity') return new Response(html, { headers })
  // The HTML differs per response (its nonce) and is a few KB: gzip is enough, and cheap.
  return new Response(Bun.gzipSync(html), { headers: { ...headers, 'content-encoding': 'gzip' } })
}

const notFound = () => new AppError('not_found', 404, 'No such file of the playground')

export const web = () =>
  new Elysia({ name: 'web', tags: ['Playground'] })
    .get(
      '/play',
      async ({ request }) => {
        const { html } = await loadPageBundle()
        const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64')
        const encoding = pickEncoding(request.headers.get('accept-encoding'))
        return htmlResponse(
          html.replaceAll(STYLE_NONCE, nonce),
          pagePolicy(nonce),
          encoding === 'br' ? 'gzip' : encoding,
        )
      },
      {
        response: { 200: t.Any({ description: 'text/html' }), ...errorResponses() },
        detail: {
          summary: 'The playground page',
          description:
            'HTML for people: pick a task, edit, run, grade and ask the tutor. Public; the page asks for an access key when the API answers 401. A Content-Security-Policy runs only its own script.',
        },
      },
    )
    .get(
      '/play/preview',
      ({ request }) => {
        const encoding = pickEncoding(request.headers.get('accept-encoding'))
        return htmlResponse(PREVIEW_PAGE, PREVIEW_POLICY, encoding === 'br' ? 'gzip' : encoding)
      },
      {
        response: { 200: t.Any({ description: 'text/html' }), ...errorResponses() },
        detail: {
          summary: "The playground's preview frame",
          description:
            "An empty page the playground writes the learner's front end into, inside a sandboxed iframe; its own policy allows inline scripts and no network.",
        },
      },
    )
    .get(
      '/play/assets/:name',
      async ({ params, request }) => {
        const asset = (await loadPageBundle()).assets.get(params.name)
        if (!asset) throw notFound()
        return assetResponse(asset, pickEncoding(request.headers.get('accept-encoding')))
      },
      {
        response: { 200: t.Any({ description: 'The file, with its content type.' }), ...errorResponses(404) },
        detail: {
          summary: 'A file of the playground',
          description:
            'Script and stylesheet of /play, named by content hash: cached for a year, immutable, brotli or gzip as accepted.',
        },
      },
    )
