/**
 * Sign-in: when the server answers 401 the page asks for the `Access key`, keeps it in sessionStorage (gone
 * when the tab closes) and starts again with it. A 429 says when to try again.
 */
import { accessKey, apiEvents } from '../api'
import { byId, notify } from '../dom'

export function mountSignin(onSignedIn: () => void) {
  const form = byId<HTMLFormElement>('signin')
  const input = byId<HTMLInputElement>('access-key')
  const why = byId('signin-why')

  apiEvents.addEventListener('unauthorized', (event) => {
    const hadKey = accessKey.get() !== ''
    accessKey.clear()
    why.textContent = hadKey
      ? 'That access key was not accepted. Enter a valid one.'
      : `This server needs an access key. ${(event as CustomEvent<string>).detail ?? ''}`.trim()
    if (form.hidden) {
      form.hidden = false
      input.focus()
    }
  })
  apiEvents.addEventListener('rate-limited', (event) => {
    const seconds = (event as CustomEvent<number | undefined>).detail
    notify(`Too many requests. Try again ${seconds ? `in ${seconds} s` : 'in a moment'}.`)
  })

  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const key = input.value.trim()
    if (!key) return
    accessKey.set(key)
    input.value = ''
    form.hidden = true
    notify('Signed in.')
    apiEvents.dispatchEvent(new Event('signed-in'))
    onSignedIn()
  })
}
