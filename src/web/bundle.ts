/**
 * The playground's files, bundled by Bun from page/index.html (an HTML import: Bun follows its script and
 * stylesheet, bundles the TypeScript and the packages it imports, and gives each output a content hash).
 *
 * Two ways in, one result:
 * - `bun build --compile` bundles the HTML import ahead of time and embeds the outputs in the binary; the
 *   import then lists them in `files` (paths under /$bunfs/), and we read them from there.
 * - From source (`bun src/index.ts`, `bun test`) the import carries no files, so the first call runs Bun.build
 *   on the same entry, in memory. Once per process.
 *
 * Either way every asset is compressed once (gzip at once, brotli in the background) and kept in memory; the
 * HTML's references are rewritten to ASSET_PREFIX, where index.ts serves them.
 */
import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'
import page from './page/index.html'

export const ASSET_PREFIX = '/play/assets/'

export interface Asset {
  name: string
  contentType: string
  body: Uint8Array<ArrayBuffer>
  gzip: Uint8Array<ArrayBuffer>
  /** Filled in the background (see assemble); until then brotli clients get gzip. */
  br?: Uint8Array<ArrayBuffer>
}

export interface PageBundle {
  /** The page's HTML with asset references under ASSET_PREFIX, and STYLE_NONCE where index.ts puts each response's nonce. */
  html: string
  /** By file name (with its content hash). */
  assets: Map<string, Asset>
  /** Resolves once every asset has its brotli form too. */
  brotli: Promise<void>
}

/** Stands in the HTML for the nonce CodeMirror puts on the <style> elements it creates (see index.ts). */
export const STYLE_NONCE = '__STYLE_NONCE__'

interface Output {
  name: string
  contentType: string
  bytes: Uint8Array<ArrayBuffer>
}

const gzipped = promisify(gzip)
const brotli = promisify(brotliCompress)

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1)

async function embeddedOutputs(files: NonNullable<Bun.HTMLBundle['files']>): Promise<Output[]> {
  return Promise.all(
    files.map(async (file) => ({
      name: baseName(file.path),
      contentType: file.headers['content-type'],
      bytes: await Bun.file(file.path).bytes(),
    })),
  )
}

async function builtOutputs(): Promise<Output[]> {
  const entry = Bun.fileURLToPath(new URL('./page/index.html', import.meta.url))
  const result = await Bun.build({
    entrypoints: [entry],
    target: 'browser',
    minify: true,
    naming: { entry: '[name]-[hash].[ext]', chunk: '[name]-[hash].[ext]', asset: '[name]-[hash].[ext]' },
  })
  if (!result.success) throw new AggregateError(result.logs, 'The playground page did not build')
  return Promise.all(
    result.outputs.map(async (output) => ({
      name: baseName(output.path),
      contentType: output.type,
      bytes: new Uint8Array(await output.arrayBuffer()),
    })),
  )
}

/** Replaces every reference to an output file in the HTML (`/x.js`, `./x.js`, `x.js`) with its served path. */
export function pointAtAssets(html: string, names: string[]): string {
  let result = html
  for (const name of names) {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    result = result.replace(new RegExp(`(["'])(?:\\.?/)?${escaped}\\1`, 'g'), `$1${ASSET_PREFIX}${name}$1`)
  }
  return result
}

async function assemble(outputs: Output[]): Promise<PageBundle> {
  // By type: Bun.build reports the HTML entry's loader on every output of it.
  const htmlOutput = outputs.find((output) => output.contentType.startsWith('text/html'))
  if (!htmlOutput) throw new Error('The playground bundle has no HTML page')
  const others = outputs.filter((output) => output !== htmlOutput)
  const assets = new Map<string, Asset>()
  const brotliDone: Promise<unknown>[] = []
  await Promise.all(
    others.map(async ({ name, contentType, bytes }) => {
      const asset: Asset = { name, contentType, body: bytes, gzip: new Uint8Array(await gzipped(bytes, { level: 9 })) }
      assets.set(name, asset)
      // Brotli at quality 10 is 14% smaller than gzip for the script but takes about a second (measured on the
      // 700 KB script: quality 11 3.3 s and 2% smaller still, gzip 20 ms): it runs on zlib's threads after the
      // page is ready, and brotli clients get gzip until then.
      const params = { [constants.BROTLI_PARAM_QUALITY]: 10, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length }
      const done = brotli(bytes, { params }).then(
        (br) => void (asset.br = new Uint8Array(br)),
        () => {}, // gzip it stays
      )
      brotliDone.push(done)
    }),
  )
  const html = pointAtAssets(new TextDecoder().decode(htmlOutput.bytes), [...assets.keys()])
  return { html, assets, brotli: Promise.all(brotliDone).then(() => {}) }
}

let loading: Promise<PageBundle> | undefined

/** The page and its assets, bundled and compressed on first use and kept for the life of the process. */
export function loadPageBundle(): Promise<PageBundle> {
  loading ??= (page.files?.length ? embeddedOutputs(page.files) : builtOutputs()).then(assemble)
  // A failed build is not cached: the next request tries again (and reports again).
  loading.catch(() => (loading = undefined))
  return loading
}
