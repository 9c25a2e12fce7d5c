/**
 * The model file format, version 1. Little-endian throughout.
 *
 *   offset  size  field
 *   0       8     magic "NORMCORE"
 *   8       4     u32 format version (1)
 *   12      4     u32 header length H in bytes (UTF-8 JSON)
 *   16      4     u32 weight count W (f32 values)
 *   20      H     JSON header (topology, options), padded with spaces to a multiple of 4
 *   20+H'   4·W   f32 weights (each layer's parameters, then its state)
 *   end−4   4     u32 CRC-32 (IEEE) of every byte before it
 *
 * Decoding checks sizes against the file's own length before it allocates
 * anything, so a header that declares huge sizes cannot make it allocate more
 * than the file's size, and every failure is a ModelFormatError.
 */

import { NormcoreError, typeError } from '../errors.js';

export const MAGIC = 'NORMCORE';
export const FORMAT_VERSION = 1;
const FIXED = 20;
/** Headers are small JSON documents; anything larger is not a model file. */
const MAX_HEADER = 1 << 20;

/** Thrown for bytes that are not a valid normcore model file (code 'MODEL_FORMAT'). */
export class ModelFormatError extends NormcoreError {
  override name = 'ModelFormatError';
  constructor(message: string) {
    super(message, 'MODEL_FORMAT');
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as in zip and PNG). */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return (crc32Update(0xffffffff, bytes, start, end) ^ 0xffffffff) >>> 0;
}

/** The running CRC-32 register after bytes[start, end): start from 0xffffffff, finish with `^ 0xffffffff`, so a long input can be taken in slices. */
export function crc32Update(register: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = register;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c;
}

export function encodeModelFile(header: unknown, weights: Float32Array): Uint8Array {
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  while (hb.length % 4 !== 0) {
    json += ' ';
    hb = enc.encode(json);
  }
  const total = FIXED + hb.length + weights.length * 4 + 4;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) out[i] = MAGIC.charCodeAt(i);
  dv.setUint32(8, FORMAT_VERSION, true);
  dv.setUint32(12, hb.length, true);
  dv.setUint32(16, weights.length, true);
  out.set(hb, FIXED);
  let o = FIXED + hb.length;
  for (let i = 0; i < weights.length; i++, o += 4) dv.setFloat32(o, weights[i]!, true);
  dv.setUint32(total - 4, crc32(out, 0, total - 4), true);
  return out;
}

export interface DecodedModelFile {
  header: unknown;
  weights: Float32Array;
}

export function decodeModelFile(bytes: unknown): DecodedModelFile {
  if (!(bytes instanceof Uint8Array)) {
    throw typeError(`load: bytes must be a Uint8Array, got ${bytes === null ? 'null' : typeof bytes === 'object' ? (bytes.constructor?.name ?? 'object') : typeof bytes}`);
  }
  const fail = (why: string): never => {
    throw new ModelFormatError(`load: not a valid normcore model file: ${why}`);
  };
  if (bytes.length < FIXED + 4) fail(`${bytes.length} bytes is shorter than the smallest model file (${FIXED + 4} bytes)`);
  for (let i = 0; i < 8; i++) if (bytes[i] !== MAGIC.charCodeAt(i)) fail(`the file does not start with the magic "${MAGIC}"`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== FORMAT_VERSION) fail(`format version ${version} is not supported (this normcore reads version ${FORMAT_VERSION})`);
  const h = dv.getUint32(12, true);
  const w = dv.getUint32(16, true);
  if (h > MAX_HEADER || h % 4 !== 0) fail(`header length ${h} is invalid`);
  const expected = FIXED + h + w * 4 + 4;
  if (expected !== bytes.length) fail(`the header declares ${expected} bytes (header ${h}, ${w} weights) but the file has ${bytes.length}`);
  const stored = dv.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes, 0, bytes.length - 4);
  if (stored !== actual) fail(`checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)}): the file is corrupt or truncated`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(FIXED, FIXED + h)));
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  const weights = new Float32Array(w);
  for (let i = 0, o = FIXED + h; i < w; i++, o += 4) weights[i] = dv.getFloat32(o, true);
  return { header, weights };
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}
