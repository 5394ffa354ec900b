/**
 * Prints `.env.template` (default) or the README configuration table (`--readme`) from src/config.ts, so the
 * documentation is regenerated rather than edited by hand: `bun scripts/settings-docs.ts > .env.template`.
 */
import { SETTINGS } from '../src/config'

const rows = Object.entries(SETTINGS).map(([key, spec]) => {
  const shown = 'example' in spec && spec.example ? spec.example : spec.default
  return { key, doc: spec.doc, value: shown === undefined ? '' : String(shown), hasDefault: spec.default !== undefined }
})

if (process.argv.includes('--readme')) {
  console.log('| Variable | Default | Meaning |\n| --- | --- | --- |')
  for (const row of rows) console.log(`| \`${row.key}\` | ${row.value ? `\`${row.value}\`` : '(unset)'} | ${row.doc} |`)
} else {
  console.log('# Copy to .env and adjust. Real environment variables win over this file. Empty means unset.\n')
  for (const row of rows) {
    console.log(`# ${row.doc}`)
    // Settings whose default depends on the machine stay commented out so the default applies.
    const computed = 'example' in SETTINGS[row.key as keyof typeof SETTINGS]
    console.log(`${computed ? '# ' : ''}${row.key}=${row.hasDefault || computed ? row.value : ''}\n`)
  }
}
