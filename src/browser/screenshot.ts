/**
 * A PNG of the page as a data URL, bounded: at most BROWSER_SCREENSHOT_MAX_HEIGHT pixels of a long page (a
 * 40,000 px page would give a 0.7 MB image and take seconds), and at most BROWSER_SCREENSHOT_MAX_BYTES; a larger
 * image is retaken at the viewport's height, and left out if even that is too large.
 */
import type { Page } from 'playwright-core'
import { VIEWPORT } from './page'

/** The settings this module reads (src/config.ts documents each). */
export interface ScreenshotSettings {
  BROWSER_SCREENSHOT_MAX_HEIGHT: number
  BROWSER_SCREENSHOT_MAX_BYTES: number
}

export async function takeScreenshot(
  page: Page,
  config: ScreenshotSettings,
  timeoutMs: number,
): Promise<string | undefined> {
  const timeout = Math.max(100, timeoutMs)
  const pageHeight = await page
    .evaluate(() => Math.max(document.documentElement?.scrollHeight ?? 0, document.body?.scrollHeight ?? 0))
    .catch(() => VIEWPORT.height)
  const height = Math.max(1, Math.min(Number(pageHeight) || VIEWPORT.height, config.BROWSER_SCREENSHOT_MAX_HEIGHT))
  for (const clipHeight of height > VIEWPORT.height ? [height, VIEWPORT.height] : [height]) {
    const png = await page.screenshot({
      type: 'png',
      fullPage: clipHeight > VIEWPORT.height,
      clip: { x: 0, y: 0, width: VIEWPORT.width, height: clipHeight },
      timeout,
      animations: 'disabled',
    })
    if (png.length <= config.BROWSER_SCREENSHOT_MAX_BYTES) return `data:image/png;base64,${png.toString('base64')}`
  }
  return undefined
}
