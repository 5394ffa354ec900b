/**
 * The browser runner: the learner's front end in a headless Chromium on this server, driven step by step
 * (steps.ts), with the learner's backend answering the page's requests (page.ts). Chromium itself runs inside
 * the sandbox (launch.ts); one warm browser serves every test, each test in a fresh context (runner.ts).
 *
 * @example
 * const browser = createBrowserRunner({ config, logger, sandbox })
 * const result = await browser.runTest({ test, files: normalizeFrontendCode(body.frontendCode), backendCode, client })
 * // { status: 'fail', message: 'Step 3 (elementText #status): expected "X wins" but was "O wins"', steps: [...], screenshot }
 */
export { entryPage, normalizeFrontendCode, type FrontendFiles } from './files'
export * from './model'
export { createBrowserRunner } from './runner'
