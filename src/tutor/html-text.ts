/**
 * A task's instructions HTML as plain text for the model: headings, paragraphs and list items on their own
 * lines, `<code>` kept as backticks, `<pre>` kept verbatim, images as their alt text (an inlined `data:` image is
 * megabytes of base64 the model cannot read anyway). Scripts, styles and comments are dropped. Task HTML is
 * written by course authors; the result is still bounded later by the tutor's context budget.
 *
 * @example
 * instructionsText('<h1>Tic</h1><p>Board: <img src="data:..." alt="a 3x3 grid"></p>')
 * // → '# Tic\n\nBoard: [image: a 3x3 grid]'
 */

const BLOCKS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'div',
  'dl',
  'dd',
  'dt',
  'figure',
  'figcaption',
  'footer',
  'form',
  'header',
  'hr',
  'main',
  'nav',
  'ol',
  'p',
  'section',
  'table',
  'tr',
  'ul',
])

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  rarr: '→',
  larr: '←',
  times: '×',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  le: '≤',
  ge: '≥',
  ne: '≠',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  middot: '·',
  bull: '•',
  copy: '©',
}

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1))
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole
    }
    return ENTITIES[name.toLowerCase()] ?? whole
  })
}

function attribute(attributes: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(attributes)
  return match ? decodeEntities(match[1] ?? match[2] ?? match[3] ?? '') : undefined
}

const TOKEN = /<!--[\s\S]*?(?:-->|$)|<(script|style|template)\b[\s\S]*?(?:<\/\1\s*>|$)|<(\/?)([a-zA-Z][\w-]*)([^>]*)>/g

/** The instructions HTML as readable plain text (see the file comment). */
export function instructionsText(html: string): string {
  let out = ''
  let pre = 0
  let last = 0
  const text = (raw: string) => {
    const decoded = decodeEntities(raw)
    if (pre > 0) return void (out += decoded)
    const collapsed = decoded.replace(/\s+/g, ' ')
    out += out === '' || out.endsWith('\n') || out.endsWith(' ') ? collapsed.trimStart() : collapsed
  }
  const newline = (count: number) => {
    out = out.replace(/[ \t]+$/, '')
    const have = /\n*$/.exec(out)![0].length
    if (out.length > 0 && have < count) out += '\n'.repeat(count - have)
  }
  for (const match of html.matchAll(TOKEN)) {
    text(html.slice(last, match.index))
    last = match.index + match[0].length
    const [, dropped, closing, rawName, attributes = ''] = match
    if (dropped || !rawName) continue // a comment, script, style or template
    const name = rawName.toLowerCase()
    if (name === 'img') {
      const alt = attribute(attributes, 'alt')?.trim()
      if (alt) out += `[image: ${alt}]`
    } else if (name === 'br') newline(1)
    else if (/^h[1-6]$/.test(name)) {
      newline(2)
      if (!closing) out += `${'#'.repeat(Number(name[1]))} `
    } else if (name === 'li') {
      newline(1)
      if (!closing) out += '- '
    } else if (name === 'pre') {
      newline(2)
      pre += closing ? -1 : 1
      if (pre < 0) pre = 0
    } else if (name === 'code' && pre === 0) out += '`'
    else if (name === 'td' || name === 'th') out += closing ? '' : ' | '
    else if (BLOCKS.has(name)) newline(name === 'tr' || name === 'dt' || name === 'dd' ? 1 : 2)
  }
  text(html.slice(last))
  return out
    .split('\n')
    .map((line) => line.replace(/[ \t]+$/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}
