/**
 * The learner's front end as one HTML document for the preview: their stylesheets and scripts (referenced by
 * file name from the HTML) are put inline, since the preview frame loads nothing from the network. Plain
 * string work, never parsed into this page's DOM.
 */
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

// A file's text inside <style> or <script> must not close the element early.
const styleText = (css: string) => css.replace(/<\/style/gi, '<\\/style')
const scriptText = (js: string) => js.replace(/<\/script/gi, '<\\/script')

/**
 * @example
 * previewDocument({ 'index.html': '<link rel="stylesheet" href="style.css">', 'style.css': 'b{}' })
 * // → '<style>b{}</style>'
 */
export function previewDocument(files: Record<string, string>): string {
  const names = Object.keys(files)
  const htmlName = names.find((name) => name === 'index.html') ?? names.find((name) => /\.html?$/i.test(name))
  let html = htmlName ? files[htmlName]! : '<!doctype html><html><body></body></html>'
  const deferred: string[] = []
  for (const name of names) {
    const ref = `(?:\\./)?${escapeRegExp(name)}`
    if (/\.css$/i.test(name)) {
      const link = new RegExp(`<link\\b[^>]*\\bhref\\s*=\\s*["']${ref}["'][^>]*>`, 'gi')
      html = html.replace(link, () => `<style>${styleText(files[name]!)}</style>`)
    } else if (/\.m?js$/i.test(name)) {
      const script = new RegExp(`<script\\b([^>]*?)\\bsrc\\s*=\\s*["']${ref}["']([^>]*)>\\s*</script>`, 'gi')
      html = html.replace(script, (_whole, before: string, after: string) => {
        const attributes = `${before}${after}`.replace(/\s+/g, ' ').trim()
        // An inline script ignores `defer`: it goes to the end of the body instead, where it runs after parsing.
        if (/(^|\s)defer(\s|=|$)/i.test(attributes) && !/type\s*=\s*["']?module/i.test(attributes)) {
          const rest = attributes.replace(/(^|\s)defer(=("[^"]*"|'[^']*'|\S*))?/i, ' ').trim()
          deferred.push(`<script${rest ? ` ${rest}` : ''}>${scriptText(files[name]!)}</script>`)
          return ''
        }
        return `<script${attributes ? ` ${attributes}` : ''}>${scriptText(files[name]!)}</script>`
      })
    }
  }
  if (deferred.length) {
    const end = html.search(/<\/body\s*>/i)
    html = end < 0 ? html + deferred.join('') : html.slice(0, end) + deferred.join('') + html.slice(end)
  }
  return html
}
