/** The compiled binary carries the playground: /play and every file it references, from the binary alone. */
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, startServer } from '../support/process'

const outDir = mkdtempSync(join(tmpdir(), 'tutor-play-bin-'))
afterAll(() => rmSync(outDir, { recursive: true, force: true }))

test('the compiled binary serves /play, the preview page and every asset, compressed', async () => {
  const binary = join(outDir, 'ai-tutor-backend')
  const build = Bun.spawnSync(
    [process.execPath, 'build', '--compile', '--minify', 'src/index.ts', '--outfile', binary],
    { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' },
  )
  expect({ exitCode: build.exitCode, stderr: build.stderr.toString() }).toEqual({ exitCode: 0, stderr: '' })

  // Started away from the source tree: nothing but the binary can provide the page.
  const server = startServer({ LOG_LEVEL: 'info', DATABASE_URL: 'sqlite::memory:' }, [binary])
  try {
    const { url } = (await server.line('listening')) as { url: string }
    const page = await fetch(`${url}/play`)
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('<label for="task">Task</label>')
    const assets = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]!)
    expect(assets.length).toBeGreaterThanOrEqual(2)
    for (const path of assets) {
      expect(path).toStartWith('/play/assets/')
      // gzip: brotli is made in the background and may not be ready yet.
      const asset = await fetch(`${url}${path}`, { headers: { 'accept-encoding': 'gzip' }, decompress: false })
      expect({ status: asset.status, encoding: asset.headers.get('content-encoding') }).toEqual({
        status: 200,
        encoding: 'gzip',
      })
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(500)
    }
    expect((await fetch(`${url}/play/preview`)).status).toBe(200)
  } finally {
    server.proc.kill('SIGTERM')
    await server.proc.exited
  }
}, 120_000)
