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

export const docs = (version: string) =>
  new Elysia({ name: 'docs' })
    .use(
      openapi({
        path: '/openapi',
        specPath: '/openapi/json',
        provider: 'swagger-ui',
        swagger: { cdn: `${ASSETS}/swagger-ui-bundle.js`, theme: `${ASSETS}/swagger-ui.css` },
        exclude: { paths: [/^\/openapi/] },
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
            { name: 'Chat', description: 'AI assistant (the WebSocket /ws/chat is described in the README)' },
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
