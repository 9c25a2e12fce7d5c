/** Flags and help of `normcore export` and `normcore import`: no protobuf here, so `normcore --help` works without the optional ONNX dependency. */
import { MAX_OPSET, MIN_OPSET } from '../io/onnx-types.js';
import { flagLines, type Flags } from '../node/flags.js';

export const EXPORT_FLAGS: Flags = {
  onnx: { type: 'string', value: '<file>', help: 'the ONNX file to write' },
  opset: { type: 'string', value: '<n>', default: '15', help: `ONNX opset, ${MIN_OPSET}…${MAX_OPSET} (a model with GELU needs ≥ 20)` },
  'no-softmax': { type: 'boolean', help: 'leave the logits: no final Softmax even when the model is compiled with softmaxCrossEntropy' },
  'input-name': { type: 'string', value: '<name>', default: 'input', help: 'name of the graph input, shaped [N, features]' },
  help: { type: 'boolean', help: 'show this help' },
};

export const IMPORT_FLAGS: Flags = {
  out: { type: 'string', value: '<file>', help: 'the normcore model file to write' },
  backend: { type: 'string', value: 'wasm|js', default: 'wasm', help: 'backend used to check the model loads' },
  help: { type: 'boolean', help: 'show this help' },
};

export const EXPORT_HELP = `normcore export <model.nc> --onnx <out.onnx> [flags]
  Writes a saved model as ONNX for ONNX Runtime and other engines: Dense → Gemm (MatMul without bias),
  BatchNorm → BatchNormalization (inference), activations, and a final Softmax for softmaxCrossEntropy models.

${flagLines(EXPORT_FLAGS)}
`;

export const IMPORT_HELP = `normcore import <in.onnx> --out <model.nc> [flags]
  Reads an ONNX chain (the Gemm/MatMul+Add, BatchNormalization, Relu/Sigmoid/Tanh… graphs PyTorch and tf2onnx
  write for MLPs) into an uncompiled normcore model file. A final Softmax is dropped: compile with
  softmaxCrossEntropy and predict returns probabilities.

${flagLines(IMPORT_FLAGS)}
`;
