/**
 * The demo's MNIST digits: decodes demo/public/digits.bin (written by
 * scripts/build-digits.mjs from `loadMnist()`, the split `npm start` trains on).
 * Browser-safe; runs in a page, a Web Worker and Node (the tests).
 */

export interface Digits {
  /** train × 784 grey levels in [0, 1], row-major. */
  trainImages: Float32Array;
  trainLabels: Uint8Array;
  /** test × 784 grey levels in [0, 1], row-major. */
  testImages: Float32Array;
  testLabels: Uint8Array;
  features: number;
  classes: number;
}

const MAGIC = 'NCDIGIT1';
const HEADER = 24 + 256 * 4;

/** Gunzips `bytes` if they start with the gzip magic (a server may already have decoded them). */
async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Decodes the asset's bytes (gzip'd or not). Throws a clear error on anything else. */
export async function decodeDigits(bytes: Uint8Array): Promise<Digits> {
  const raw = await gunzip(bytes);
  if (raw.length < HEADER || new TextDecoder().decode(raw.subarray(0, 8)) !== MAGIC) {
    throw new Error('decodeDigits: not a normcore digits file (expected the magic "NCDIGIT1"); rebuild it with `npm run build`');
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const train = view.getUint32(8, true), test = view.getUint32(12, true);
  const features = view.getUint32(16, true), classes = view.getUint32(20, true);
  const expected = HEADER + train + test + (train + test) * features;
  if (raw.length !== expected) {
    throw new Error(`decodeDigits: the file holds ${raw.length} bytes, its header promises ${expected}; rebuild it with \`npm run build\``);
  }
  const palette = new Float32Array(256);
  for (let k = 0; k < 256; k++) palette[k] = view.getFloat32(24 + 4 * k, true);
  const pixels = (start: number, n: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = palette[raw[start + i]!]!;
    return out;
  };
  let at = HEADER;
  const trainLabels = raw.slice(at, (at += train));
  const testLabels = raw.slice(at, (at += test));
  const trainImages = pixels(at, train * features);
  at += train * features;
  const testImages = pixels(at, test * features);
  return { trainImages, trainLabels, testImages, testLabels, features, classes };
}

/** Fetches and decodes the asset. */
export async function fetchDigits(url: string | URL): Promise<Digits> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetchDigits: GET ${String(url)} answered ${res.status}; run \`npm run build\` to write demo/public/digits.bin`);
  return decodeDigits(new Uint8Array(await res.arrayBuffer()));
}
