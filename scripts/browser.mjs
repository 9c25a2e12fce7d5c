// Headless Chromium and the demo server, shared by test/browser.test.ts and
// bench/browser.mjs. Debian's Chromium only (/usr/bin/chromium, from
// `apt-get install -y chromium`); never a browser downloaded by a test tool.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** No GPU, no sandbox (CI runs as root), and none of Chromium's own network traffic (this machine's network is closed). */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
];

export function chromiumAvailable() {
  return existsSync(CHROMIUM_PATH);
}

/** Launches Debian's Chromium through playwright-core (a fresh temporary profile per launch). */
export async function launchChromium() {
  if (!chromiumAvailable()) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}; install it with: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/**
 * Builds the demo (demo/index.html and demo/bench.html) into a temporary
 * folder with Vite and serves it with `vite preview` on a free localhost port.
 * Returns its base URL and a `close()` that stops the server and removes the build.
 */
export async function serveDemo({ quiet = true } = {}) {
  if (!existsSync(join(ROOT, 'demo', 'public', 'digits.bin'))) {
    throw new Error('demo/public/digits.bin is missing; run `npm run build` (scripts/build-digits.mjs writes it)');
  }
  const { build, preview } = await import('vite');
  const configFile = join(ROOT, 'demo', 'vite.config.ts');
  const outDir = mkdtempSync(join(tmpdir(), 'normcore-demo-'));
  const logLevel = quiet ? 'warn' : 'info';
  try {
    await build({ configFile, logLevel, build: { outDir, emptyOutDir: true } });
    const server = await preview({ configFile, logLevel, build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false } });
    const url = server.resolvedUrls?.local[0];
    if (!url) throw new Error('vite preview did not report a local URL');
    return {
      url,
      async close() {
        await server.close();
        rmSync(outDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(outDir, { recursive: true, force: true });
    throw e;
  }
}
