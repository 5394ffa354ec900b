/**
 * The pages kept between tests (runner.ts asks for one per test): a page that served a test is reset (page.ts)
 * and kept for the next one, at most one per slot, so that a test costs a navigation instead of a new browser
 * context and renderer. A page is closed instead when it may carry something of its test (see giveBack), and any
 * page while the browser is short of memory.
 */
import type { Logger } from '../logging'
import type { LaunchedBrowser } from './launch'
import { CLOSE_WAIT_MS } from './outcome'
import { closedWithin } from './within'
import { openPage, type OpenedPage } from './page'

/**
 * Memory a page may need while its test runs (the learner's page on top of an idle renderer, ~30 MB): a page is
 * kept for the next test, and more than two tests run at once, only while the browser has this much to spare.
 */
const PAGE_ROOM_BYTES = 256 << 20
/** DevTools traffic discarded during a test beyond which its page is not kept (see giveBack). */
const FLOOD_BYTES = 1 << 20
/** How long a page may take to be reset after its test before it is closed instead (page.ts). */
const RESET_WAIT_MS = 2000

export interface PagePoolOptions {
  /** Pages kept per browser at most: one per slot. */
  keep: number
  browserMemoryBytes: number
  stepTimeoutMs: number
  logger: Logger
  /** Whether pages of `running` may still be kept (it is the browser in use, and the runner is not closing). */
  keeps(running: LaunchedBrowser): boolean
  /** Gives up on `running` (a page of it would not close): the runner starts another browser for the next test. */
  restart(running: LaunchedBrowser): Promise<void>
}

export function createPagePool({ keep, browserMemoryBytes, stepTimeoutMs, logger, keeps, restart }: PagePoolOptions) {
  /** Pages reset for the next test, per browser. */
  const idle = new WeakMap<LaunchedBrowser, OpenedPage[]>()
  const stats = { opened: 0, reused: 0 }

  /**
   * Whether the browser has memory for `pages` more pages (each may take PAGE_ROOM_BYTES) beside what it holds
   * now. Where no cgroup counts its memory, it is assumed to.
   */
  function roomFor(running: LaunchedBrowser, pages: number) {
    const used = running.memoryUsed()
    return used === null || used + pages * PAGE_ROOM_BYTES <= browserMemoryBytes
  }

  /**
   * Closes a page's context. One whose renderer is stuck may not close: then the whole browser goes, and the next
   * test starts a new one.
   */
  async function close(running: LaunchedBrowser, page: OpenedPage) {
    if (await closedWithin(page.context.close(), CLOSE_WAIT_MS)) return
    logger.warn('a browser context did not close; restarting the browser')
    await restart(running)
  }

  return {
    roomFor,
    close,
    stats: () => ({ ...stats }),

    /** A kept page of `running`'s, or a new one (always new on a browser of a test's own: `solo`). */
    async take(running: LaunchedBrowser, solo?: boolean): Promise<OpenedPage> {
      const kept = solo ? undefined : idle.get(running)
      for (let page = kept?.pop(); page; page = kept?.pop()) {
        if (!page.crashed() && !page.page.isClosed()) {
          stats.reused++
          return page
        }
        void page.context.close().catch(() => {})
      }
      stats.opened++
      return openPage(running.browser, stepTimeoutMs)
    },

    /**
     * Watches what `running`'s DevTools bridge discards from now on: the function returned says whether a test
     * that started now flooded it (this page's doing, or a neighbour's: either way its page is not kept).
     */
    watchFlood(running: LaunchedBrowser): () => boolean {
      const atStart = running.bridgeStats().discardedBytes
      return () => running.bridgeStats().discardedBytes - atStart > FLOOD_BYTES
    },

    /**
     * Resets `page` after its test and keeps it for the next one. Closed instead: a page that flooded DevTools
     * (tens of megabytes of console output leave its renderer large), that does not reset in time or held much
     * memory (page.ts), or any page while the browser is short of memory or no longer the one in use.
     */
    async giveBack(running: LaunchedBrowser, page: OpenedPage, flooded: () => boolean) {
      const pages = idle.get(running) ?? []
      idle.set(running, pages)
      const clean = !flooded() && (await page.reset(RESET_WAIT_MS)) && roomFor(running, 1)
      if (clean && keeps(running) && pages.length < keep) pages.push(page)
      else await close(running, page)
    },
  }
}
