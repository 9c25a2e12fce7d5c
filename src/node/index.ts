/**
 * normcore/node: everything in 'normcore', 'normcore/cnn' and 'normcore/data',
 * plus what needs Node built-ins: the MNIST digits, model files, CSV, and SVG
 * charts. (Bundle size does not matter here, so one entry has it all.)
 */
export * from '../index.js';
export * from '../cnn.js';
export * from '../data.js';
// Shadows the core Sequential: the same model, whose fit also takes checkpoint paths.
export { Sequential } from './sequential.js';
export type { NodeFitOptions, CheckpointPathOptions } from './sequential.js';
export { loadMnist, MNIST_AVAILABLE, MNIST_CLASSES, MNIST_FEATURES } from './mnist.js';
export type { MnistData, MnistOptions } from './mnist.js';
export { loadModel, saveModel, writeFileAtomic } from './model-file.js';
export type { LoadModelOptions } from './model-file.js';
export { checkpointFile, readCheckpoint } from './checkpoint.js';
export type { CheckpointFileOptions } from './checkpoint.js';
export { lineChartSvg, lineChartsSvg, trainingCurvesSvg } from './chart.js';
export type { LineChartOptions, LineSeries, TrainingCurves } from './chart.js';
export { loadCsv, loadCsvEncoded } from './csv.js';
export type { LoadCsvOptions, LoadCsvEncodedOptions, CsvData, CsvSource } from './csv.js';
