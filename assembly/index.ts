// normcore's WebAssembly kernels. Every export takes byte pointers into this
// module's linear memory, integer sizes and scalars; none allocates. The
// pure-JS backend (src/backend/js-kernels.ts) has a twin of each, with the
// same name and argument order. Argument order everywhere: outputs, saved
// buffers, inputs, parameters, then sizes and scalars.
//
// Called by: src/backend/wasm.ts, which wraps them with argument checks.

export { setScratch, heapBase, scratchBytesNeeded } from './memory';
export { setWideTile } from './matmul';
export { matmul, matmulForward, matmulBackward, packWeights, matmulForwardPacked } from './matmul';
// Range variants for the threaded backend (src/backend/threads.ts); not kernels of their own.
export { matmulPart, matmulForwardPackedPart } from './matmul';
export { batchnormForwardPart, batchnormInferencePart, batchnormBackwardPart } from './batchnorm';
export { maxPoolForwardPart, maxPoolBackwardPart } from './conv';
export { batchnormForward, batchnormInference, batchnormBackward, batchnormReluForward, batchnormReluInference, batchnormReluBackward } from './batchnorm';
export {
  reluForward, reluBackward, sigmoidForward, sigmoidBackward, tanhForward, tanhBackward,
  leakyReluForward, leakyReluBackward, geluForward, geluBackward,
  biasForward, biasBackward, noiseForward, noiseBackward, fill, copy, gatherRows, countNonFinite, scaleRows,
} from './elementwise';
export { softmaxCrossEntropy, softmaxForward, mseLoss, binaryCrossEntropy, maeLoss, huberLoss, countCorrect } from './loss';
export { sgdUpdate, rmspropUpdate, adamUpdate, adamwUpdate } from './optim';
export {
  im2col, col2im, maxPoolForward, maxPoolBackward, avgPoolForward, avgPoolBackward,
  globalAvgPoolForward, globalAvgPoolBackward, dropoutForward, dropoutBackward,
} from './conv';
