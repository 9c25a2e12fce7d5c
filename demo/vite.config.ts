// The demo page (npm run demo) and the browser benchmark page (npm run bench:browser).
// `normcore` resolves to the library's TypeScript source, so the demo always runs the working tree.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: here('.'),
  base: './',
  resolve: {
    alias: [
      { find: /^normcore$/, replacement: here('../src/index.ts') },
      // the other browser-safe entries: normcore/onnx, normcore/cnn, normcore/data, normcore/kernels → src/<name>.ts
      { find: /^normcore\/(onnx|cnn|data|kernels)$/, replacement: here('../src/$1.ts') },
    ],
  },
  worker: { format: 'es' },
  build: {
    outDir: here('../dist-demo'),
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: { input: { demo: here('index.html'), bench: here('bench.html') } },
  },
  // Cross-origin isolation (COOP/COEP): SharedArrayBuffer, so the training worker can run normcore's threaded backend.
  server: { host: '127.0.0.1', headers: ISOLATION },
  preview: { host: '127.0.0.1', headers: ISOLATION },
});
