/**
 * demo/bench.html: runs bench/browser-bench.ts in this page and shows the
 * table; bench/browser.mjs reads `window.__normcoreBench` from headless Chromium.
 */
import { fmt, runBrowserBenchmarks, speedup, type BenchOptions, type BenchResult } from '../../bench/browser-bench.js';

declare global {
  interface Window {
    /** Set when a run ends: its results, or its error message. */
    __normcoreBench?: { results?: BenchResult[]; error?: string; userAgent: string };
    /** Starts a run (the button does the same), e.g. from Playwright with a shorter budget. */
    __normcoreRunBench?: (options?: Omit<BenchOptions, 'onProgress'>) => Promise<void>;
  }
}

const status = document.getElementById('bench-status')!;
const body = document.querySelector('#bench tbody')!;
const button = document.getElementById('run') as HTMLButtonElement;

async function run(options: Omit<BenchOptions, 'onProgress'> = {}): Promise<void> {
  button.disabled = true;
  window.__normcoreBench = undefined;
  body.replaceChildren();
  try {
    const results = await runBrowserBenchmarks({ ...options, onProgress: (t) => (status.textContent = t) });
    for (const r of results) {
      const tr = document.createElement('tr');
      for (const [i, c] of [r.name, r.unit, fmt(r.values.wasm), fmt(r.values.js), speedup(r)].entries()) {
        const td = document.createElement('td');
        td.textContent = c;
        if (i >= 2) td.className = 'num';
        tr.append(td);
      }
      body.append(tr);
    }
    status.textContent = `Done (${navigator.userAgent}).`;
    window.__normcoreBench = { results, userAgent: navigator.userAgent };
  } catch (e) {
    status.textContent = `Failed: ${(e as Error).message}`;
    window.__normcoreBench = { error: (e as Error).message, userAgent: navigator.userAgent };
  } finally {
    button.disabled = false;
  }
}

button.addEventListener('click', () => void run());
window.__normcoreRunBench = run;
