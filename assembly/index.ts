// normcore's WebAssembly kernels. Every export takes byte pointers into this
// module's linear memory, integer sizes and scalars; none allocates. The
// pure-JS backend (src/backend/js-kernels.ts) has a twin of each, with the
// same name and argument order. Argument order everywhere: outputs, saved
// buffers, inputs, parameters, then sizes and scalars.
//
// Called by: src/backend/wasm.ts, which wraps them with argument checks.

export { setScratch, heapBase, scratchBytesNeeded } from './memory';
export { matmul, matmulForward, matmulBackward } from './matmul';
export { batchnormForward, batchnormInference, batchnormBackward, batchnormReluForward, batchnormReluInference, batchnormReluBackward } from './batchnorm';
export {
  reluForward, reluBackward, sigmoidForward, sigmoidBackward, tanhForward, tanhBackward,
  leakyReluForward, leakyReluBackward, geluForward, geluBackward,
  biasForward, biasBackward, fill, copy, gatherRows, scaleRows,
} from './elementwise';
export { softmaxCrossEntropy, softmaxForward, mseLoss, binaryCrossEntropy, maeLoss, huberLoss, countCorrect } from './loss';
export { sgdUpdate, rmspropUpdate, adamUpdate, adamwUpdate } from './optim';
