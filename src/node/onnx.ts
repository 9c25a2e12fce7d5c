/** fromOnnx for Node: the same, returning normcore/node's Sequential (whose fit takes checkpoint paths). */
import { fromOnnxWith, type FromOnnxOptions } from '../io/onnx.js';
import { parseFile } from '../io/model-parse.js';
import { Sequential } from './sequential.js';

/** See the core `fromOnnx` (src/io/onnx.ts). */
export function fromOnnx(bytes: Uint8Array, options?: FromOnnxOptions): Sequential {
  return fromOnnxWith((file, o) => Sequential.loadWith(parseFile, file, o), bytes, options);
}
