/**
 * `.env.template` and the configuration table of docs/configuration.md come from src/config.ts, so the
 * documentation is regenerated rather than edited by hand: `bun scripts/settings-docs.ts --write` rewrites both
 * (without `--write` it prints the template, with `--table` the table). A test checks they match the code.
 */
import { SETTINGS } from '../src/config'

const rows = Object.entries(SETTINGS).map(([key, spec]) => {
  const example = 'example' in spec && spec.example ? String(spec.example) : ''
  const fallback = spec.default === undefined ? '' : String(spec.default)
  return { key, doc: spec.doc, example, fallback, value: example || fallback, hasDefault: spec.default !== undefined }
})

const code = (text: string) => (text ? `\`${text}\`` : '')

function table(): string {
  // Defaults and examples apart: an example (a Redis address, an Ollama URL) is not what an unset variable means.
  const lines = ['| Variable | Default | Example | Meaning |', '| --- | --- | --- | --- |']
  for (const row of rows)
    lines.push(
      `| \`${row.key}\` | ${row.fallback ? code(row.fallback) : '(unset)'} | ${code(row.example)} | ${row.doc} |`,
    )
  return lines.join('\n')
}

function template(): string {
  const lines = ['# Copy to .env and adjust. Real environment variables win over this file. Empty means unset.', '']
  for (const row of rows) {
    lines.push(`# ${row.doc}`)
    // Settings whose default depends on the machine stay commented out so the default applies.
    const computed = 'example' in SETTINGS[row.key as keyof typeof SETTINGS]
    lines.push(`${computed ? '# ' : ''}${row.key}=${row.hasDefault || computed ? row.value : ''}`, '')
  }
  return `${lines.join('\n')}\n`
}

/** Replaces the settings table of docs/configuration.md (the lines starting with `|` after its header row). */
async function writeTable(path: string) {
  const lines = (await Bun.file(path).text()).split('\n')
  const start = lines.findIndex((line) => line.startsWith('| Variable |'))
  let end = start
  while (end < lines.length && lines[end]!.startsWith('|')) end++
  lines.splice(start, end - start, table())
  await Bun.write(path, lines.join('\n'))
}

if (process.argv.includes('--write')) {
  const root = new URL('..', import.meta.url).pathname
  await Bun.write(`${root}.env.template`, template())
  await writeTable(`${root}docs/configuration.md`)
} else console.log(process.argv.includes('--table') ? table() : template())
