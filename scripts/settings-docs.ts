/**
 * Prints `.env.template` (default) or the configuration table of docs/configuration.md (`--readme`) from src/config.ts, so the
 * documentation is regenerated rather than edited by hand: `bun scripts/settings-docs.ts > .env.template`.
 */
import { SETTINGS } from '../src/config'

const rows = Object.entries(SETTINGS).map(([key, spec]) => {
  const example = 'example' in spec && spec.example ? String(spec.example) : ''
  const fallback = spec.default === undefined ? '' : String(spec.default)
  return { key, doc: spec.doc, example, fallback, value: example || fallback, hasDefault: spec.default !== undefined }
})

const code = (text: string) => (text ? `\`${text}\`` : '')

if (process.argv.includes('--readme')) {
  // Defaults and examples apart: an example (a Redis address, an Ollama URL) is not what an unset variable means.
  console.log('| Variable | Default | Example | Meaning |\n| --- | --- | --- | --- |')
  for (const row of rows)
    console.log(`| \`${row.key}\` | ${row.fallback ? code(row.fallback) : '(unset)'} | ${code(row.example)} | ${row.doc} |`)
} else {
  console.log('# Copy to .env and adjust. Real environment variables win over this file. Empty means unset.\n')
  for (const row of rows) {
    console.log(`# ${row.doc}`)
    // Settings whose default depends on the machine stay commented out so the default applies.
    const computed = 'example' in SETTINGS[row.key as keyof typeof SETTINGS]
    console.log(`${computed ? '# ' : ''}${row.key}=${row.hasDefault || computed ? row.value : ''}\n`)
  }
}
