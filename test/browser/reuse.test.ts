/**
 * A page serves one test after another (runner.ts keeps one per slot, page.ts resets it): nothing one test leaves
 * in it reaches the next. The first test leaves everything a page can leave (storage of every kind, cookies,
 * globals, window.name, a timer that fires after the test, a broadcast channel and a shared worker that stay
 * open, a service worker it tries to register); the next one, on the same page, looks for all of it and for what
 * that timer would have done. Real browser, one slot, so both tests get the same page (health counts it).
 */
import { describe, expect, test } from 'bun:test'
import { named, page, realRunner, skipReason, steps } from './helpers'

const { runner } = realRunner({ BROWSER_CONCURRENCY: '1' })
const pages = async () => (await runner.health()).browser!.pages as { opened: number; reused: number }
/** A plain test after the one under scrutiny, on whichever page the runner gives it. */
const nextTest = () =>
  runner.runTest({
    test: steps([{ assert: 'elementText', selector: '#ok', expected: 'ok' }]),
    files: page('<p id="ok">ok</p>'),
    client: 'second',
  })

const WORKER = `
  let seen = 'fresh'
  onconnect = (event) => {
    const port = event.ports[0]
    port.onmessage = (message) => { const before = seen; seen = message.data; port.postMessage(before) }
  }`

/** The first test: leaves what it can, then says so; its timer fires after the test has ended. */
const leaver = page(
  '<p id="done"></p>',
  `window.leftGlobal = 'left'
   window.name = 'left'
   localStorage.setItem('left', 'x')
   sessionStorage.setItem('left', 'x')
   document.cookie = 'left=x; path=/'
   history.pushState({}, '', '/pushed')
   const channel = new BroadcastChannel('left')
   channel.onmessage = () => channel.postMessage('still here')
   const worker = new SharedWorker('worker.js', 'left')
   worker.port.postMessage('left')
   navigator.serviceWorker?.register('/worker.js').catch(() => {})
   setTimeout(() => {
     localStorage.setItem('late', 'x')
     document.cookie = 'late=x; path=/'
     fetch('/late', { method: 'POST' })
   }, 300)
   const db = indexedDB.open('left-db')
   db.onupgradeneeded = () => db.result.createObjectStore('store')
   db.onsuccess = () => { document.getElementById('done').textContent = 'left' }`,
)

/** The second test: lists whatever of the first one it finds, or "nothing". */
const finder = page(
  '<button id="look">look</button><p id="found"></p>',
  `document.getElementById('look').addEventListener('click', async () => {
     const found = []
     if (window.leftGlobal) found.push('global')
     if (window.name) found.push('window.name')
     if (localStorage.length) found.push('localStorage')
     if (sessionStorage.length) found.push('sessionStorage')
     if (document.cookie) found.push('cookie')
     if ((await indexedDB.databases()).length) found.push('indexedDB')
     if (navigator.serviceWorker && (await navigator.serviceWorker.getRegistrations()).length) found.push('service worker')
     const answer = await new Promise((resolve) => {
       const channel = new BroadcastChannel('left')
       channel.onmessage = (message) => resolve(message.data)
       channel.postMessage('anyone?')
       setTimeout(() => resolve(null), 200)
     })
     if (answer) found.push('broadcast channel')
     const shared = await new Promise((resolve) => {
       const worker = new SharedWorker('worker.js', 'left')
       worker.port.onmessage = (message) => resolve(message.data)
       worker.port.postMessage('finder')
     })
     if (shared !== 'fresh') found.push('shared worker')
     const calls = await (await fetch('/calls')).json()
     if (calls.result !== 0) found.push('backend call')
     document.getElementById('found').textContent = found.join(', ') || 'nothing'
   })`,
)

const BACKEND = `
calls = 0

@endpoint('/late', methods=['POST'])
def late():
    global calls
    calls += 1
    return calls

@endpoint('/calls')
def count():
    return calls
`

describe.skipIf(skipReason !== null)(named('a page kept for the next test'), () => {
  test('holds nothing of the test before: storage, cookies, globals, timers, channels, workers', async () => {
    const before = await pages()
    const left = await runner.runTest({
      test: steps([{ assert: 'elementText', selector: '#done', expected: 'left' }]),
      files: { ...leaver, 'worker.js': WORKER },
      backendCode: BACKEND,
      client: 'first',
    })
    expect(left.status).toBe('pass')
    const found = await runner.runTest({
      test: steps([
        { action: 'wait', duration: 600 }, // the first test's timer would have fired by now
        { action: 'click', selector: '#look' },
        { assert: 'elementText', selector: '#found', expected: 'nothing' },
      ]),
      files: { ...finder, 'worker.js': WORKER },
      backendCode: BACKEND,
      client: 'second',
    })
    expect(found.steps.at(-1)).toMatchObject({ status: 'pass', actual: 'nothing' })
    const after = await pages()
    // Both tests ran on the one page: the second got it from the first.
    expect(after.opened - before.opened).toBe(before.opened === 0 ? 1 : 0)
    expect(after.reused - before.reused).toBe(1)
  }, 120_000)

  test('a page that asks "leave this page?" is left anyway, and kept', async () => {
    const before = await pages()
    const asking = await runner.runTest({
      test: steps([
        { action: 'click', selector: '#arm' }, // a click: the page may now ask before it is left
        { assert: 'elementText', selector: '#arm', expected: 'armed' },
      ]),
      files: page(
        '<button id="arm">arm</button>',
        `arm.onclick = () => {
           addEventListener('beforeunload', (event) => { event.preventDefault(); event.returnValue = 'stay' })
           arm.textContent = 'armed'
         }`,
      ),
      client: 'first',
    })
    expect(asking.status).toBe('pass')
    expect((await nextTest()).status).toBe('pass')
    const after = await pages()
    expect(after.opened - before.opened).toBe(0)
    expect(after.reused - before.reused).toBe(2)
  }, 120_000)

  test('a page whose test ran out of time is not kept: the next test gets a new one, and passes', async () => {
    const before = await pages()
    const hung = await runner.runTest({
      test: steps([
        { action: 'click', selector: '#spin' },
        { assert: 'elementText', selector: '#spin', expected: 'never' },
      ]),
      files: page('<button id="spin">spin</button>', 'spin.onclick = () => { for (;;) {} }'),
      client: 'first',
    })
    expect(hung.status).toBe('fail')
    expect((await nextTest()).status).toBe('pass')
    const after = await pages()
    expect(after.opened - before.opened).toBe(1)
  }, 120_000)
})
