/**
 * The demo page in headless Chromium, opened the way the browser tests need
 * it: Vite's server for demo/ (scripts/browser.mjs), a 1200×900 context whose
 * page errors and console errors are collected in `errors`, and the page
 * loaded until the demo says it is ready (body[data-ready]).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, serveDemo } from '../../scripts/browser.mjs';

export class DemoPage {
  server: Awaited<ReturnType<typeof serveDemo>> | undefined;
  browser: Browser | undefined;
  context!: BrowserContext;
  page!: Page;
  /** Uncaught errors and console errors of every page in the context. */
  readonly errors: string[] = [];

  /** Starts the server and Chromium (kept as soon as they run, so `close` ends them whatever fails later) and loads the page. */
  async open(options: { acceptDownloads?: boolean } = {}): Promise<this> {
    [this.server, this.browser] = await Promise.all([serveDemo(), launchChromium()]);
    this.context = await this.browser.newContext({ ...(options.acceptDownloads ? { acceptDownloads: true } : {}), viewport: { width: 1200, height: 900 } });
    this.context.on('weberror', (e) => this.errors.push(e.error().message));
    this.context.on('console', (m) => { if (m.type() === 'error') this.errors.push(m.text()); });
    this.page = await this.context.newPage();
    await this.page.goto(this.server.url);
    await this.page.waitForSelector('body[data-ready]', { state: 'attached' });
    return this;
  }

  async close(): Promise<void> {
    await this.browser?.close();
    await this.server?.close();
  }
}
