/**
 * normcore/onnx: models in and out as ONNX (browser-safe). A separate entry,
 * so the core needs no protobuf runtime: install the optional peer
 * dependency `@bufbuild/protobuf` to use it.
 */
export { toOnnx, fromOnnx, onnxToLayers, onnxToModelFile, OnnxUnsupportedError, ONNX_EXPORT_LAYERS, ONNX_IMPORT_OPS, ONNX_EXPORT_OPSETS } from './io/onnx.js';
export type { ToOnnxOptions, FromOnnxOptions, OnnxLayerConfig } from './io/onnx.js';
