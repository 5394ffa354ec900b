/**
 * A fake OneCompiler that speaks its API: it checks the RapidAPI headers, really runs the submitted index.py with
 * python3 (so the remote harness path is real), records every request, and can be scripted per request to answer
 * with OneCompiler's error codes.
 *
 * @example
 * const fake = fakeOneCompiler('key')
 * fake.scripts.push(() => Response.json({ status: 'failed', error: 'E002: quota exceeded' }))
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export type Script = (request: any) => Response | undefined

/** A fake OneCompiler on 127.0.0.1 port 0 that accepts `key`; `scripts` answer the next requests in turn. */
export function fakeOneCompiler(key: string) {
  const requests: { headers: Headers; body: any }[] = []
  const scripts: Script[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const body = await request.json()
      requests.push({ headers: request.headers, body })
      const scripted = scripts.shift()?.(body)
      if (scripted) return scripted
      if (request.headers.get('x-rapidapi-key') !== key)
        return Response.json({ status: 'failed', error: 'E003: invalid key' })
      const dir = mkdtempSync(join(tmpdir(), 'onecompiler-'))
      try {
        writeFileSync(join(dir, 'index.py'), body.files[0].content)
        const started = performance.now()
        const proc = Bun.spawn(['/usr/bin/python3', '-I', '-S', 'index.py'], {
          cwd: dir,
          env: {},
          stdin: 'pipe',
          stdout: 'pipe',
          stderr: 'pipe',
          timeout: 10_000,
        })
        proc.stdin.write(body.stdin ?? '')
        proc.stdin.end()
        const [stdout, stderr, code] = await Promise.all([
          new Response(proc.stdout).text(),
          new Response(proc.stderr).text(),
          proc.exited,
        ])
        const exception = code === 0 ? null : stderr
        return Response.json({
          status: 'success',
          stdout,
          stderr: code === 0 ? stderr : null,
          exception,
          executionTime: Math.round(performance.now() - started),
        })
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  })
  return { server, requests, scripts, url: `http://127.0.0.1:${server.port}` }
}
