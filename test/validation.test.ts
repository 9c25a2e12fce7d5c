/**
 * Validation across the public API: every bad input is refused with a typed
 * error (TypeError for a wrong kind of value, RangeError for a wrong size or
 * value, StateError for a call the object's state does not allow) whose
 * message names the call, the argument, the expected and the given value, and
 * carries a `code`. A refused call leaves the model exactly as it was: its
 * file bytes (weights, running statistics, counters) and its optimizer state
 * are compared before and after every case.
 *
 * The kernel-level and typed-API checks are covered in bad-input.test.ts; a
 * few appear here so the count covers every public entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchNorm, Dense, DivergenceError, type ErrorCode, NormcoreError, ReLU, Sequential, Sigmoid, StateError } from '../src/index.js';
import { createBackend, createBackendSync, type KernelBackend as Backend } from '../src/kernels.js';
import { blobs, bnNet, fullState } from './fixtures/data.js';

type Kind = typeof TypeError | typeof RangeError | typeof StateError | typeof Error;

interface Ctx {
  be: Backend;
  /** A BN model, compiled with Adam and trained one epoch (its optimizer state is not zero). */
  m: Sequential;
  x: Float32Array;
  y: Uint8Array;
}

/** [what, call, error class, code (undefined: not tagged), message pattern]. */
type Case = [string, (c: Ctx) => unknown, Kind, ErrorCode | undefined, RegExp];

const X = (rows: number, f = 6, v = 0.5) => new Float32Array(rows * f).fill(v);
const withValue = (a: Float32Array, i: number, v: number) => { const b = a.slice(); b[i] = v; return b; };
const bad = <T>(v: unknown) => v as T;

const constructorCases: Case[] = [
  ['Dense inFeatures 0', () => new Dense(0, 3), RangeError, 'OUT_OF_RANGE', /^Dense: inFeatures must be an integer ≥ 1, got 0$/],
  ['Dense inFeatures 2.5', () => new Dense(2.5, 3), RangeError, 'OUT_OF_RANGE', /^Dense: inFeatures must be an integer ≥ 1, got 2\.5$/],
  ['Dense inFeatures "4"', () => new Dense(bad('4'), 3), TypeError, 'INVALID_ARGUMENT', /^Dense: inFeatures must be an integer ≥ 1, got "4"$/],
  ['Dense outFeatures NaN', () => new Dense(4, NaN), RangeError, 'OUT_OF_RANGE', /^Dense: outFeatures must be an integer ≥ 1, got NaN$/],
  ['Dense outFeatures -3', () => new Dense(4, -3), RangeError, 'OUT_OF_RANGE', /^Dense: outFeatures must be an integer ≥ 1, got -3$/],
  ['Dense misspelled option', () => new Dense(4, 3, bad({ bais: true })), TypeError, 'UNKNOWN_OPTION', /^Dense: unknown option options\.bais; expected one of bias, init$/],
  ['Dense bias "yes"', () => new Dense(4, 3, { bias: bad('yes') }), TypeError, 'INVALID_ARGUMENT', /^Dense: options\.bias must be a boolean, got "yes"$/],
  ['Dense init "xavier"', () => new Dense(4, 3, { init: bad('xavier') }), TypeError, 'INVALID_ARGUMENT', /^Dense: options\.init must be 'auto', 'he', 'glorot' or \{ type: 'normal', std \}, got "xavier"$/],
  ['Dense init std -1', () => new Dense(4, 3, { init: { type: 'normal', std: -1 } }), RangeError, 'OUT_OF_RANGE', /^Dense: options\.init\.std must be a finite number in \(0, Infinity\], got -1$/],
  ['Dense init unknown key', () => new Dense(4, 3, { init: bad({ type: 'normal', std: 1, mean: 0 }) }), TypeError, 'UNKNOWN_OPTION', /^Dense: unknown option options\.init\.mean; expected one of type, std$/],
  ['Dense options not an object', () => new Dense(4, 3, bad(true)), TypeError, 'INVALID_ARGUMENT', /^Dense: options must be an object, got boolean$/],
  ['BatchNorm features 0', () => new BatchNorm(0), RangeError, 'OUT_OF_RANGE', /^BatchNorm: features must be an integer ≥ 1, got 0$/],
  ['BatchNorm features undefined', () => new BatchNorm(bad(undefined)), TypeError, 'INVALID_ARGUMENT', /^BatchNorm: features must be an integer ≥ 1, got undefined$/],
  ['BatchNorm eps 0', () => new BatchNorm(4, { eps: 0 }), RangeError, 'OUT_OF_RANGE', /^BatchNorm: options\.eps must be a finite number in \(0, Infinity\], got 0$/],
  ['BatchNorm eps Infinity', () => new BatchNorm(4, { eps: Infinity }), RangeError, 'OUT_OF_RANGE', /^BatchNorm: options\.eps must be a finite number in \(0, Infinity\], got Infinity$/],
  ['BatchNorm momentum 1.5', () => new BatchNorm(4, { momentum: 1.5 }), RangeError, 'OUT_OF_RANGE', /^BatchNorm: options\.momentum must be a finite number in \(0, 1\], got 1\.5$/],
  ['BatchNorm momentum -0.1', () => new BatchNorm(4, { momentum: -0.1 }), RangeError, 'OUT_OF_RANGE', /^BatchNorm: options\.momentum must be a finite number in \(0, 1\], got -0\.1$/],
  ['BatchNorm momentum "0.1"', () => new BatchNorm(4, { momentum: bad('0.1') }), TypeError, 'INVALID_ARGUMENT', /^BatchNorm: options\.momentum must be a number, got "0\.1"$/],
  ['BatchNorm misspelled option', () => new BatchNorm(4, bad({ afine: false })), TypeError, 'UNKNOWN_OPTION', /^BatchNorm: unknown option options\.afine; expected one of eps, momentum, affine$/],
  ['BatchNorm affine 1', () => new BatchNorm(4, { affine: bad(1) }), TypeError, 'INVALID_ARGUMENT', /^BatchNorm: options\.affine must be a boolean, got 1$/],
  ['Sequential no layers', ({ be }) => new Sequential([], { backend: be }), TypeError, 'INVALID_ARGUMENT', /^Sequential: layers must be a non-empty array of layers, got Array\(0\)$/],
  ['Sequential layers not an array', ({ be }) => new Sequential(bad('dense'), { backend: be }), TypeError, 'INVALID_ARGUMENT', /^Sequential: layers must be a non-empty array of layers, got "dense"$/],
  ['Sequential a non-layer', ({ be }) => new Sequential([new Dense(4, 3), bad({})], { backend: be }), TypeError, 'INVALID_ARGUMENT', /^Sequential: layers\[1\] must be a Layer, got Object$/],
  ['Sequential the same layer twice', ({ be }) => { const r = new ReLU(); return new Sequential([new Dense(4, 3), r, r], { backend: be }); }, TypeError, 'INVALID_ARGUMENT', /^Sequential: the same layer object appears twice in layers$/],
  ['Sequential Dense width mismatch', ({ be }) => new Sequential([new Dense(4, 8), new Dense(7, 2)], { backend: be }), RangeError, 'SHAPE_MISMATCH', /^Sequential: layers\[1\] \(dense\) expects 7 input features, but the previous layer outputs 8$/],
  ['Sequential BatchNorm width mismatch', ({ be }) => new Sequential([new Dense(4, 8), new ReLU(), new BatchNorm(6)], { backend: be }), RangeError, 'SHAPE_MISMATCH', /^Sequential: layers\[2\] \(batchnorm\) expects 6 input features, but the previous layer outputs 8$/],
  ['Sequential activation first', ({ be }) => new Sequential([new ReLU(), new Dense(4, 2)], { backend: be }), TypeError, 'INVALID_ARGUMENT', /^Sequential: the first layer must be Dense or BatchNorm .*got relu$/],
  ['Sequential backend "gpu"', () => new Sequential([new Dense(4, 2)], { backend: bad('gpu') }), TypeError, undefined, /^Sequential: options\.backend must be a Backend, 'wasm' or 'js', got "gpu"$/],
  ['Sequential backend {}', () => new Sequential([new Dense(4, 2)], { backend: bad({}) }), TypeError, 'INVALID_ARGUMENT', /^Sequential: options\.backend must be a Backend, 'wasm' or 'js', got Object$/],
  ['Sequential seed -1', ({ be }) => new Sequential([new Dense(4, 2)], { backend: be, seed: -1 }), RangeError, 'OUT_OF_RANGE', /^Sequential: options\.seed must be an integer in \[0, 4294967295\], got -1$/],
  // issue 15: seeds are 32-bit; 2^32 + 1 used to train exactly as seed 1
  ['Sequential seed 2^32 + 1', ({ be }) => new Sequential([new Dense(4, 2)], { backend: be, seed: 2 ** 32 + 1 }), RangeError, 'OUT_OF_RANGE', /^Sequential: options\.seed must be an integer in \[0, 4294967295\], got 4294967297$/],
  ['Sequential misspelled option', ({ be }) => new Sequential([new Dense(4, 2)], bad({ backend: be, sed: 1 })), TypeError, 'UNKNOWN_OPTION', /^Sequential: unknown option options\.sed; expected one of backend, seed, fuse, inputShape$/],
  ['Sequential a layer of another model', ({ m, be }) => new Sequential([m.layers[0]!, new Dense(12, 2)], { backend: be }), TypeError, 'INVALID_ARGUMENT', /^Sequential: layers\[0\] \(dense\) already belongs to another model/],
  ['Sequential more than 4 GiB', ({ be }) => new Sequential([new Dense(40000, 40000)], { backend: be }), RangeError, 'OUT_OF_RANGE', /^Sequential: the model needs \d+ bytes .* more than the 4294967296 bytes \(4 GiB\) a WebAssembly memory can hold$/],
];

const compileCases: Case[] = [
  ['compile loss "crossentropy"', ({ m }) => m.compile({ loss: bad('crossentropy') }), TypeError, 'INVALID_ARGUMENT', /^compile: options\.loss must be one of 'softmaxCrossEntropy', 'binaryCrossEntropy', 'mse', 'mae', 'huber' \(or \{ type: 'huber', delta \}\), got "crossentropy"$/],
  ['compile optimizer "adamx"', ({ m }) => m.compile({ optimizer: { type: bad('adamx') } }), TypeError, 'INVALID_ARGUMENT', /^compile: options\.optimizer\.type must be one of 'sgd', 'momentum', 'rmsprop', 'adam', 'adamw', got "adamx"$/],
  ['compile huber delta 0', ({ m }) => m.compile({ loss: { type: 'huber', delta: 0 } }), RangeError, 'OUT_OF_RANGE', /^compile: options\.loss\.delta must be a finite number in \(0, Infinity\], got 0$/],
  ['compile optimizer a string', ({ m }) => m.compile({ optimizer: bad('adam') }), TypeError, 'INVALID_ARGUMENT', /^compile: options\.optimizer must be an object like \{ type: 'adam', lr: 0\.001 \}, got "adam"$/],
  ['compile lr -1', ({ m }) => m.compile({ optimizer: { type: 'adam', lr: -1 } }), RangeError, 'OUT_OF_RANGE', /^compile: options\.optimizer\.lr must be a finite number in \(0, Infinity\], got -1$/],
  ['compile lr 0', ({ m }) => m.compile({ optimizer: { type: 'sgd', lr: 0 } }), RangeError, 'OUT_OF_RANGE', /^compile: options\.optimizer\.lr must be a finite number in \(0, Infinity\], got 0$/],
  ['compile lr NaN', ({ m }) => m.compile({ optimizer: { type: 'sgd', lr: NaN } }), RangeError, 'OUT_OF_RANGE', /^compile: options\.optimizer\.lr must be a finite number in \(0, Infinity\], got NaN$/],
  ['compile misspelled optimizer option', ({ m }) => m.compile({ optimizer: bad({ type: 'adam', learningRate: 0.1 }) }), TypeError, 'UNKNOWN_OPTION', /^compile: unknown option options\.optimizer\.learningRate; expected one of type, lr, /],
  ['compile beta1 1.5', ({ m }) => m.compile({ optimizer: { type: 'adam', beta1: 1.5 } }), RangeError, 'OUT_OF_RANGE', /^compile: options\.optimizer\.beta1 must be a finite number in \[0, 1\], got 1\.5$/],
  ['compile momentum -1', ({ m }) => m.compile({ optimizer: { type: 'momentum', momentum: -1 } }), RangeError, 'OUT_OF_RANGE', /^compile: options\.optimizer\.momentum must be a finite number in \[0, 1\], got -1$/],
  ['compile weightDecay -0.1', ({ m }) => m.compile({ optimizer: { type: 'sgd', weightDecay: -0.1 } }), RangeError, 'OUT_OF_RANGE', /^compile: options\.optimizer\.weightDecay must be a finite number in \[0, Infinity\], got -0\.1$/],
  ['compile cosine minLr -1', ({ m }) => m.compile({ lrSchedule: { type: 'cosine', minLr: -1 } }), RangeError, 'OUT_OF_RANGE', /^compile: options\.lrSchedule\.minLr must be a finite number in \[0, Infinity\], got -1$/],
  ['compile step every 0', ({ m }) => m.compile({ lrSchedule: { type: 'step', every: 0, factor: 0.5 } }), RangeError, 'OUT_OF_RANGE', /^compile: options\.lrSchedule\.every must be an integer ≥ 1, got 0$/],
  ['compile step factor 2', ({ m }) => m.compile({ lrSchedule: { type: 'step', every: 2, factor: 2 } }), RangeError, 'OUT_OF_RANGE', /^compile: options\.lrSchedule\.factor must be a finite number in \(0, 1\], got 2$/],
  ['compile schedule "cosine"', ({ m }) => m.compile({ lrSchedule: bad('cosine') }), TypeError, 'INVALID_ARGUMENT', /^compile: options\.lrSchedule must be an object, got "cosine"$/],
  ['compile schedule type "linear"', ({ m }) => m.compile({ lrSchedule: bad({ type: 'linear' }) }), TypeError, 'INVALID_ARGUMENT', /^compile: options\.lrSchedule\.type must be 'constant', 'cosine' or 'step', got "linear"$/],
  ['compile constant schedule with a stray key', ({ m }) => m.compile({ lrSchedule: bad({ type: 'constant', lr: 1 }) }), TypeError, 'UNKNOWN_OPTION', /^compile: unknown option options\.lrSchedule\.lr; expected one of type$/],
  ['compile misspelled option', ({ m }) => m.compile(bad({ los: 'mse' })), TypeError, 'UNKNOWN_OPTION', /^compile: unknown option options\.los; expected one of loss, optimizer, lrSchedule, metrics$/],
  ['compile options a string', ({ m }) => m.compile(bad('adam')), TypeError, 'INVALID_ARGUMENT', /^compile: options must be an object, got "adam"$/],
];

const fit = (c: Ctx, options: object, x: unknown = c.x, y: unknown = c.y) => c.m.fit(bad(x), bad(y), bad(options));
const fitCases: Case[] = [
  ['fit x a flat number[] not rows × 6', (c) => fit(c, {}, [1, 2, 3]), RangeError, 'SHAPE_MISMATCH', /^fit: x must hold rows × 6 values, got length 3 \(not a multiple of 6\)$/],
  ['fit x a string', (c) => fit(c, {}, bad('1,2,3')), TypeError, 'INVALID_ARGUMENT', /^fit: x must be a Float32Array \(rows × 6\), Float64Array, number\[\]\[\] or number\[\], got "1,2,3"$/],
  ['fit x an Int32Array', (c) => fit(c, {}, bad(new Int32Array(60))), TypeError, 'INVALID_ARGUMENT', /got Int32Array\(60\)$/],
  ['fit x ragged number[][]', (c) => fit(c, {}, [[1, 2, 3, 4, 5, 6], [1, 2]], Uint8Array.of(0, 1)), RangeError, 'SHAPE_MISMATCH', /^fit: x has ragged rows: row 1 has 2 values, expected 6 \(the length of row 0\)$/],
  ['fit x not rows × features', (c) => fit(c, {}, X(10).subarray(1)), RangeError, 'SHAPE_MISMATCH', /^fit: x must have a length that is a positive multiple of 6 \(rows × 6 features\), got length 59$/],
  ['fit x empty', (c) => fit(c, {}, new Float32Array(0), new Uint8Array(0)), RangeError, 'SHAPE_MISMATCH', /^fit: x must have a length that is a positive multiple of 6 .*got length 0$/],
  ['fit x with NaN', (c) => fit(c, {}, withValue(c.x, 6 * 7 + 2, NaN)), RangeError, 'NOT_FINITE', /^fit: x must hold finite numbers, got NaN at row 7, feature 2 \(pass checkInputs: false to skip this check\)$/],
  ['fit x with Infinity', (c) => fit(c, {}, withValue(c.x, 0, Infinity)), RangeError, 'NOT_FINITE', /^fit: x must hold finite numbers, got Infinity at row 0, feature 0/],
  ['fit x with -Infinity', (c) => fit(c, {}, withValue(c.x, 59, -Infinity)), RangeError, 'NOT_FINITE', /^fit: x must hold finite numbers, got -Infinity at row 9, feature 5/],
  ['fit y too short', (c) => fit(c, {}, c.x, c.y.subarray(1)), RangeError, 'SHAPE_MISMATCH', /^fit: y must have one label per row \(60\) or rows·outputs = 60·3 = 180 values, got length 59$/],
  ['fit label out of range', (c) => fit(c, {}, c.x, Uint8Array.from(c.y, (v, i) => (i === 4 ? 3 : v))), RangeError, 'OUT_OF_RANGE', /^fit: y\[4\] must be a class index in \[0, 2\], got 3$/],
  ['fit negative label', (c) => fit(c, {}, c.x, Int32Array.from(c.y, (v, i) => (i === 9 ? -1 : v))), RangeError, 'OUT_OF_RANGE', /^fit: y\[9\] must be a class index in \[0, 2\], got -1$/],
  ['fit one-hot of the wrong length', (c) => fit(c, {}, c.x, new Float32Array(60 * 4)), RangeError, 'SHAPE_MISMATCH', /^fit: y must have one label per row \(60\) or rows·outputs = 60·3 = 180 values, got length 240$/],
  ['fit one-hot with NaN', (c) => fit(c, {}, c.x, withValue(new Float32Array(180), 17, NaN)), RangeError, 'NOT_FINITE', /^fit: y must hold finite numbers, got NaN at row 5, column 2 \(0-based\)$/],
  ['fit y a string', (c) => fit(c, {}, c.x, bad('0,1')), TypeError, 'INVALID_ARGUMENT', /^fit: y must be class labels or targets \(a typed array, number\[\] or number\[\]\[\]\), got "0,1"$/],
  ['fit y a number[] of fractions under softmax', (c) => fit(c, {}, c.x, Array.from(c.y, (v, i) => (i === 3 ? 0.5 : v))), RangeError, 'OUT_OF_RANGE', /^fit: y\[3\] must be a class index \(an integer ≥ 0\), got 0\.5$/],
  ['fit y an object', (c) => fit(c, {}, c.x, bad({ length: 60 })), TypeError, 'INVALID_ARGUMENT', /got Object$/],
  ['fit batchSize 0', (c) => fit(c, { batchSize: 0 }), RangeError, 'OUT_OF_RANGE', /^fit: options\.batchSize must be an integer ≥ 1, got 0$/],
  ['fit batchSize -8', (c) => fit(c, { batchSize: -8 }), RangeError, 'OUT_OF_RANGE', /^fit: options\.batchSize must be an integer ≥ 1, got -8$/],
  ['fit batchSize 1.5', (c) => fit(c, { batchSize: 1.5 }), RangeError, 'OUT_OF_RANGE', /^fit: options\.batchSize must be an integer ≥ 1, got 1\.5$/],
  ['fit batchSize > rows', (c) => fit(c, { batchSize: 61 }), RangeError, 'OUT_OF_RANGE', /^fit: options\.batchSize must be ≤ the number of rows \(60\), got 61$/],
  ['fit batchSize "32"', (c) => fit(c, { batchSize: '32' }), TypeError, 'INVALID_ARGUMENT', /^fit: options\.batchSize must be an integer ≥ 1, got "32"$/],
  ['fit BatchNorm with a batch of 1', (c) => fit(c, { batchSize: 1 }), RangeError, 'OUT_OF_RANGE', /^fit: options\.batchSize must be ≥ 2 for a model with BatchNorm \(the variance of one sample is undefined\), got 1$/],
  ['fit BatchNorm on a single row', (c) => fit(c, {}, X(1), new Uint8Array(1)), RangeError, 'OUT_OF_RANGE', /^fit: options\.batchSize must be ≥ 2 for a model with BatchNorm .*got 1 \(x has a single row\)$/],
  ['fit epochs 0', (c) => fit(c, { epochs: 0 }), RangeError, 'OUT_OF_RANGE', /^fit: options\.epochs must be an integer ≥ 1, got 0$/],
  ['fit epochs "many"', (c) => fit(c, { epochs: 'many' }), TypeError, 'INVALID_ARGUMENT', /^fit: options\.epochs must be an integer ≥ 1, got "many"$/],
  ['fit shuffle "yes"', (c) => fit(c, { shuffle: 'yes' }), TypeError, 'INVALID_ARGUMENT', /^fit: options\.shuffle must be a boolean, got "yes"$/],
  ['fit dropLast 1', (c) => fit(c, { dropLast: 1 }), TypeError, 'INVALID_ARGUMENT', /^fit: options\.dropLast must be a boolean, got 1$/],
  ['fit checkInputs "no"', (c) => fit(c, { checkInputs: 'no' }), TypeError, 'INVALID_ARGUMENT', /^fit: options\.checkInputs must be a boolean, got "no"$/],
  ['fit seed -1', (c) => fit(c, { seed: -1 }), RangeError, 'OUT_OF_RANGE', /^fit: options\.seed must be an integer in \[0, 4294967295\], got -1$/],
  ['fit seed 2^32', (c) => fit(c, { seed: 2 ** 32 }), RangeError, 'OUT_OF_RANGE', /^fit: options\.seed must be an integer in \[0, 4294967295\], got 4294967296$/],
  ['fit misspelled option epoch', (c) => fit(c, { epoch: 3 }), TypeError, 'UNKNOWN_OPTION', /^fit: unknown option options\.epoch; expected one of epochs, batchSize, /],
  ['fit misspelled option batch_size', (c) => fit(c, { batch_size: 3 }), TypeError, 'UNKNOWN_OPTION', /^fit: unknown option options\.batch_size; expected one of /],
  ['fit option of another call', (c) => fit(c, { learningRate: 0.1 }), TypeError, 'UNKNOWN_OPTION', /^fit: unknown option options\.learningRate/],
  ['fit options a number', (c) => fit(c, 5 as unknown as object), TypeError, 'INVALID_ARGUMENT', /^fit: options must be an object, got 5$/],
  ['fit validationData [x]', (c) => fit(c, { validationData: [c.x] }), TypeError, 'INVALID_ARGUMENT', /^fit: options\.validationData must be \[x, y\] or an \(async\) iterable of \{ x, y \} batches, got Array\(1\)$/],
  ['fit validationData x with NaN', (c) => fit(c, { validationData: [withValue(c.x, 3, NaN), c.y] }), RangeError, 'NOT_FINITE', /^fit: validationData\[0\] must hold finite numbers, got NaN at row 0, feature 3/],
  ['fit validationData x of the wrong width', (c) => fit(c, { validationData: [X(5, 5), new Uint8Array(5)] }), RangeError, 'SHAPE_MISMATCH', /^fit: validationData\[0\] must have a length that is a positive multiple of 6 .*got length 25$/],
  ['fit validationData label out of range', (c) => fit(c, { validationData: [X(2), Uint8Array.of(0, 7)] }), RangeError, 'OUT_OF_RANGE', /^fit: validationData\[1\]\[1\] must be a class index in \[0, 2\], got 7$/],
  ['fit validationData labels too few', (c) => fit(c, { validationData: [X(3), Uint8Array.of(0, 1)] }), RangeError, 'SHAPE_MISMATCH', /^fit: validationData\[1\] must have one label per row \(3\) or rows·outputs = 3·3 = 9 values, got length 2$/],
  ['fit onEpochEnd not a function', (c) => fit(c, { onEpochEnd: 'log' }), TypeError, 'INVALID_ARGUMENT', /^fit: options\.onEpochEnd must be a function, got "log"$/],
  ['fit onBatchEnd not a function', (c) => fit(c, { onBatchEnd: {} }), TypeError, 'INVALID_ARGUMENT', /^fit: options\.onBatchEnd must be a function, got Object$/],
  ['fit signal not an AbortSignal', (c) => fit(c, { signal: true }), TypeError, 'INVALID_ARGUMENT', /^fit: options\.signal must be an AbortSignal, got boolean$/],
  ['fit checkpoint path (Node only)', (c) => fit(c, { checkpoint: { path: 'a.ckpt' } }), TypeError, 'UNKNOWN_OPTION', /^fit: options\.checkpoint\.path needs Node: use Sequential from 'normcore\/node' \(or checkpoint: checkpointFile\(path\) from there\)/],
  ['fit checkpoint without save', (c) => fit(c, { checkpoint: { everyEpochs: 1 } }), TypeError, 'INVALID_ARGUMENT', /^fit: options\.checkpoint\.save must be a function/],
  ['fit resumeFrom a path', (c) => fit(c, { resumeFrom: 'a.ckpt' }), TypeError, 'INVALID_ARGUMENT', /^fit: options\.resumeFrom must be the bytes of a checkpoint \(Uint8Array\), got "a\.ckpt"$/],
  ['fit resumeFrom garbage', (c) => fit(c, { resumeFrom: new Uint8Array(64) }), Error, 'MODEL_FORMAT', /^fit: options\.resumeFrom: not a valid normcore model file: the file does not start with the magic "NORMCORE"$/],
  ['fit resumeFrom a model file', (c) => fit(c, { resumeFrom: c.m.save() }), Error, 'CHECKPOINT_MISMATCH', /^fit: options\.resumeFrom is a model file, not a checkpoint/],
];

const inferenceCases: Case[] = [
  ['predict x a string', ({ m }) => m.predict(bad('0,1')), TypeError, 'INVALID_ARGUMENT', /^predict: x must be a Float32Array \(rows × 6\), Float64Array, number\[\]\[\] or number\[\], got "0,1"$/],
  ['predict x not rows × features', ({ m }) => m.predict(X(3).subarray(2)), RangeError, 'SHAPE_MISMATCH', /^predict: x must have a length that is a positive multiple of 6 \(rows × 6 features\), got length 16$/],
  ['predict x with NaN', ({ m }) => m.predict(withValue(X(3), 8, NaN)), RangeError, 'NOT_FINITE', /^predict: x must hold finite numbers, got NaN at row 1, feature 2/],
  ['predict x with Infinity', ({ m }) => m.predict(withValue(X(3), 17, Infinity)), RangeError, 'NOT_FINITE', /^predict: x must hold finite numbers, got Infinity at row 2, feature 5/],
  // x goes through the network in chunks of at least 256 rows, each checked by the countNonFinite kernel once it is in memory
  ['predict x with NaN in a later chunk', ({ m }) => m.predict(withValue(X(700), 600 * 6 + 4, NaN)), RangeError, 'NOT_FINITE', /^predict: x must hold finite numbers, got NaN at row 600, feature 4 \(pass checkInputs: false to skip this check\)$/],
  ['predict x with -Infinity as its last value', ({ m }) => m.predict(withValue(X(300), 300 * 6 - 1, -Infinity)), RangeError, 'NOT_FINITE', /^predict: x must hold finite numbers, got -Infinity at row 299, feature 5/],
  ['predict misspelled option', ({ m }) => m.predict(X(2), bad({ checkInput: false })), TypeError, 'UNKNOWN_OPTION', /^predict: unknown option options\.checkInput; expected one of checkInputs$/],
  ['predict checkInputs "no"', ({ m }) => m.predict(X(2), { checkInputs: bad('no') }), TypeError, 'INVALID_ARGUMENT', /^predict: options\.checkInputs must be a boolean, got "no"$/],
  ['predict options a string', ({ m }) => m.predict(X(2), bad('fast')), TypeError, 'INVALID_ARGUMENT', /^predict: options must be an object, got "fast"$/],
  ['evaluate label out of range', ({ m }) => m.evaluate(X(2), Uint8Array.of(1, 3)), RangeError, 'OUT_OF_RANGE', /^evaluate: y\[1\] must be a class index in \[0, 2\], got 3$/],
  ['evaluate labels too many', ({ m }) => m.evaluate(X(2), Uint8Array.of(1, 1, 1)), RangeError, 'SHAPE_MISMATCH', /^evaluate: y must have one label per row \(2\) or rows·outputs = 2·3 = 6 values, got length 3$/],
  ['evaluate x with NaN', ({ m }) => m.evaluate(withValue(X(2), 0, NaN), Uint8Array.of(1, 1)), RangeError, 'NOT_FINITE', /^evaluate: x must hold finite numbers, got NaN at row 0, feature 0/],
  ['evaluate x with Infinity in a later chunk', ({ m }) => m.evaluate(withValue(X(520), 515 * 6, Infinity), new Uint8Array(520)), RangeError, 'NOT_FINITE', /^evaluate: x must hold finite numbers, got Infinity at row 515, feature 0/],
  ['evaluate misspelled option', ({ m }) => m.evaluate(X(2), Uint8Array.of(1, 1), bad({ batchSize: 2 })), TypeError, 'UNKNOWN_OPTION', /^evaluate: unknown option options\.batchSize; expected one of checkInputs$/],
  ['layerOutputs no indices', ({ m }) => m.layerOutputs(X(2), []), TypeError, 'INVALID_ARGUMENT', /^layerOutputs: indices must be a non-empty array, got Array\(0\)$/],
  ['layerOutputs indices "all"', ({ m }) => m.layerOutputs(X(2), bad('all')), TypeError, 'INVALID_ARGUMENT', /^layerOutputs: indices must be a non-empty array, got "all"$/],
  ['layerOutputs index too large', ({ m }) => m.layerOutputs(X(2), [1, 4]), RangeError, 'OUT_OF_RANGE', /^layerOutputs: layer index must be < 4, got 4$/],
  ['layerOutputs index -1', ({ m }) => m.layerOutputs(X(2), [-1]), RangeError, 'OUT_OF_RANGE', /^layerOutputs: indices\[0\] must be an integer ≥ 0, got -1$/],
  ['layerOutputs index 0.5', ({ m }) => m.layerOutputs(X(2), [0, 0.5]), RangeError, 'OUT_OF_RANGE', /^layerOutputs: indices\[1\] must be an integer ≥ 0, got 0\.5$/],
  ['layerOutputs x not rows × features', ({ m }) => m.layerOutputs(X(2).subarray(1), [0]), RangeError, 'SHAPE_MISMATCH', /^layerOutputs: x must have a length that is a positive multiple of 6 .*got length 11$/],
  ['layerOutputs x with NaN', ({ m }) => m.layerOutputs(withValue(X(2), 1, NaN), [0]), RangeError, 'NOT_FINITE', /^layerOutputs: x must hold finite numbers, got NaN at row 0, feature 1/],
  ['layerOutputs x with NaN in a later chunk', ({ m }) => m.layerOutputs(withValue(X(600), 599 * 6 + 3, NaN), [1]), RangeError, 'NOT_FINITE', /^layerOutputs: x must hold finite numbers, got NaN at row 599, feature 3/],
];

const loadCases: Case[] = [
  ['load a string', ({ be }) => Sequential.load(bad('model.nc'), { backend: be }), TypeError, 'INVALID_ARGUMENT', /^load: bytes must be a Uint8Array, got string$/],
  ['load an ArrayBuffer', ({ be, m }) => Sequential.load(bad(m.save().buffer), { backend: be }), TypeError, 'INVALID_ARGUMENT', /^load: bytes must be a Uint8Array, got ArrayBuffer$/],
  ['load text', ({ be }) => Sequential.load(new TextEncoder().encode('hello, I am not a model file at all'), { backend: be }), Error, 'MODEL_FORMAT', /^load: not a valid normcore model file: the file does not start with the magic "NORMCORE"$/],
  ['load backend "gpu"', ({ m }) => Sequential.load(m.save(), { backend: bad('gpu') }), TypeError, undefined, /^load: options\.backend must be a Backend, 'wasm' or 'js', got "gpu"$/],
  ['load misspelled option', ({ be, m }) => Sequential.load(m.save(), bad({ backnd: be })), TypeError, 'UNKNOWN_OPTION', /^load: unknown option options\.backnd; expected one of backend$/],
  ['checkpointInfo of a model file', ({ m }) => Sequential.checkpointInfo(m.save()), Error, 'MODEL_FORMAT', /^checkpointInfo: the bytes are a model file, not a checkpoint/],
];

const backendCases: Case[] = [
  ['createBackend "gpu"', () => createBackend(bad('gpu')), TypeError, undefined, /^createBackend: name must be 'wasm' or 'js', got "gpu"$/],
  ['createBackend misspelled option', () => createBackend('js', bad({ debg: true })), TypeError, 'UNKNOWN_OPTION', /^createBackend: unknown option options\.debg; expected one of debug/],
  ['createBackendSync options a number', () => createBackendSync('js', bad(5)), TypeError, 'INVALID_ARGUMENT', /^createBackendSync: options must be an object, got 5$/],
  ['matmul a of the wrong length', ({ be }) => be.matmul(X(1, 5), X(1, 12), { m: 2, k: 3, n: 4 }), RangeError, 'SHAPE_MISMATCH', /^matmul: a must have length 6 \(m·k = 2·3\), got length 5$/],
  ['matmul misspelled option', ({ be }) => be.matmul(X(1), X(2), bad({ m: 2, k: 3, n: 4, transpose: true })), TypeError, 'UNKNOWN_OPTION', /^matmul: unknown option options\.transpose/],
  ['batchNormForward one row', ({ be }) => be.batchNormForward(X(1, 2), X(1, 2), X(1, 2), { rows: 1, cols: 2 }), RangeError, undefined, /^batchNormForward: options\.rows must be ≥ 2 in training mode/],
  ['batchNormBackward gamma of the wrong length', ({ be }) => be.batchNormBackward(X(2, 2), X(2, 2), X(1, 3), X(1, 2), X(1, 2), { rows: 2, cols: 2 }), RangeError, 'SHAPE_MISMATCH', /^batchNormBackward: gamma must have length 2 \(cols\), got length 3$/],
];

const allCases = [...constructorCases, ...compileCases, ...fitCases, ...inferenceCases, ...loadCases, ...backendCases];

/** Calls fn and returns what it threw (sync or async), or undefined. */
async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectRefusal(e: unknown, kind: Kind, code: ErrorCode | undefined, re: RegExp): void {
  expect(e, `expected ${kind.name} matching ${re}`).toBeInstanceOf(kind);
  expect((e as Error).message).toMatch(re);
  if (code !== undefined) {
    expect(e).toBeInstanceOf(NormcoreError);
    expect((e as NormcoreError).code).toBe(code);
  }
}

let tried = 0;

describe.each(['wasm', 'js'] as const)('validation on the %s backend', (name) => {
  const ctx = {} as Ctx;
  beforeAll(async () => {
    ctx.be = await createBackend(name);
    const d = blobs(60, 6, 3, 9);
    ctx.x = d.x;
    ctx.y = d.y;
    ctx.m = bnNet(ctx.be);
    ctx.m.compile({ optimizer: { type: 'adam', lr: 0.01 } });
    await ctx.m.fit(ctx.x, ctx.y, { epochs: 1, batchSize: 16 });
  });

  it.each(allCases)('%s: refused, and the model is left exactly as it was', async (_what, call, kind, code, re) => {
    const before = fullState(ctx.m);
    const e = await thrown(() => call(ctx));
    expectRefusal(e, kind, code, re);
    expect(fullState(ctx.m)).toEqual(before);
    tried++;
  });

  it('a refused Sequential constructor leaves its layers as they were (widths are checked before anything changes)', () => {
    const act = new Sigmoid();
    const dense = new Dense(4, 8);
    expect(() => new Sequential([dense, act, new BatchNorm(6)], { backend: ctx.be })).toThrow(/expects 6 input features/);
    expect(act.inFeatures).toBe(0);
    expect(act.attached).toBe(false);
    // the layers can still form a valid model
    const m = new Sequential([dense, act, new Dense(8, 2)], { backend: ctx.be });
    expect(m.outFeatures).toBe(2);
    tried++;
  });

  it('refuses state errors: an uncompiled fit, a second fit while one runs, a compile during fit, a disposed model', async () => {
    const fresh = bnNet(ctx.be);
    const before = fullState(fresh);
    expectRefusal(await thrown(() => fresh.fit(ctx.x, ctx.y)), StateError, 'INVALID_STATE', /^fit: the model is not compiled; call model\.compile\(\{ loss, optimizer \}\) first$/);
    expect(fullState(fresh)).toEqual(before);

    const m = bnNet(ctx.be).compile();
    let during: unknown[] = [];
    const running = m.fit(ctx.x, ctx.y, {
      epochs: 2, batchSize: 16,
      onBatchEnd: async (b) => {
        if (b !== 1) return;
        const s = fullState(m);
        during = [await thrown(() => m.fit(ctx.x, ctx.y)), await thrown(() => m.compile())];
        expect(fullState(m)).toEqual(s);
      },
    });
    await running;
    expectRefusal(during[0], StateError, 'INVALID_STATE', /^fit: the model is already training; wait for the running fit to finish/);
    expectRefusal(during[1], StateError, 'INVALID_STATE', /^compile: the model is training; compile after fit has finished$/);
    // a model disposed during its fit stops it with a clear error
    const d = bnNet(ctx.be).compile();
    expectRefusal(await thrown(() => d.fit(ctx.x, ctx.y, { epochs: 2, batchSize: 16, onBatchEnd: () => d.dispose() })), StateError, 'INVALID_STATE', /^fit: the model was disposed$/);
    for (const call of [() => d.predict(X(1)), () => d.fit(ctx.x, ctx.y), () => d.save(), () => d.compile(), () => d.layerOutputs(X(1), [0])]) {
      expectRefusal(await thrown(call), StateError, 'INVALID_STATE', /: the model was disposed$/);
    }
    tried += 9;
  });

  it('checkInputs: false skips the finiteness pass: NaN reaches the model, fit stops with DivergenceError and restores the weights', async () => {
    const xs = withValue(ctx.x, 4, NaN);
    // (sigmoid, not ReLU: the js ReLU kernel maps NaN to 0 where the wasm one propagates it)
    const sigmoidNet = () => new Sequential([new Dense(6, 8), new BatchNorm(8), new Sigmoid(), new Dense(8, 3)], { backend: ctx.be, seed: 2 });
    expect(sigmoidNet().predict(xs.subarray(0, 6), { checkInputs: false }).every(Number.isNaN)).toBe(true);
    const m = sigmoidNet().compile();
    const before = m.save();
    const e = await thrown(() => m.fit(xs, ctx.y, { checkInputs: false, batchSize: 60, shuffle: false }));
    expect(e).toBeInstanceOf(DivergenceError);
    expect(m.save()).toEqual(before);
    tried++;
  });
});

afterAll(() => {
  console.log(`validation: ${tried} bad-input cases tried over both backends (${allCases.length} table cases per backend), each refused with a typed error and the model unchanged`);
});
