/**
 * Building elements from text. Everything from the learner, the tasks folder or the model goes in through
 * `textContent` here; the only HTML the page ever inserts is what markdown.ts has passed through DOMPurify.
 */
type Attributes = Record<string, string | boolean | undefined>
type Child = Node | string | null | undefined | false

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue
    element.setAttribute(name, value === true ? '' : value)
  }
  for (const child of children) if (child) element.append(child)
  return element
}

export const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T

/** JSON for people: indented, and `undefined` shown as nothing rather than failing. */
export const showJson = (value: unknown) => (value === undefined ? '' : JSON.stringify(value, null, 2))

/** A failure screenshot as an <img>, only when it really is a PNG or JPEG data URL. */
export function screenshot(src: unknown, alt: string): HTMLImageElement | null {
  if (typeof src !== 'string' || !/^data:image\/(png|jpeg);base64,[A-Za-z0-9+/=]+$/.test(src)) return null
  return el('img', { src, alt, class: 'screenshot' })
}

/** Says something to the learner in the status line (read out by screen readers). */
export function notify(text: string) {
  byId('notice').textContent = text
}

export const when = (iso: unknown) => (typeof iso === 'string' ? new Date(iso).toLocaleString() : '')
