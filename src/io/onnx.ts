/**
 * ONNX in and out, through the model file (src/model/format.ts): `toOnnx`
 * reads a model's `save()` bytes and writes an ONNX ModelProto; `fromOnnx`
 * maps an ONNX chain onto layer configs and weights, writes a model file and
 * loads it. Browser-safe (no Node built-ins); the protobuf part is
 * src/io/onnx-pb.ts.
 *
 * Two tables hold the mapping, one entry per layer type (EXPORTS) and one per
 * ONNX op (IMPORTS); a new layer is one entry in each.
 *
 *   normcore layer        ONNX (export)                          ONNX (import)
 *   dense                 Gemm (B = W [in×out], C = bias)        Gemm (transA 0, transB 0|1, any alpha/beta),
 *                         MatMul when the layer has no bias        MatMul, MatMul + Add(constant) → bias
 *   batchnorm             BatchNormalization (inference)         BatchNormalization (opsets 9…15+ attributes)
 *   relu/sigmoid/tanh     Relu / Sigmoid / Tanh                  the same
 *   leakyrelu             LeakyRelu(alpha)                       LeakyRelu
 *   gelu (tanh approx.)   Gelu(approximate='tanh'), opset ≥ 20   Gelu(approximate='tanh')
 *   softmax CE loss       a final Softmax (option softmax:false) a final Softmax is dropped
 *   —                     —                                      Identity, Dropout (inference), Flatten, Reshape
 *                                                                  to [-1, F], Constant nodes, initializers
 *
 * BatchNorm momentum: ONNX's is the weight of the old running value, normcore
 * follows PyTorch (weight of the new batch): onnx = 1 − normcore. A normcore
 * momentum of null (cumulative average) has no ONNX equivalent and is written
 * as ONNX's default 0.9; inference does not use it.
 */

export { OnnxUnsupportedError, type FromOnnxOptions, type OnnxLayerConfig, type ToOnnxOptions } from './onnx-types.js';
export { toOnnx, ONNX_EXPORT_LAYERS, ONNX_EXPORT_OPSETS, MIN_OPSET, MAX_OPSET } from './onnx-export.js';
export { fromOnnx, fromOnnxWith, onnxToLayers, onnxToModelFile, ONNX_IMPORT_OPS } from './onnx-import.js';
