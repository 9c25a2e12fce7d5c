// TensorFlow.js training the issue-12 CNN (batch 64, Adam), for the record: one
// warm-up and two timed trainOnBatch steps on its cpu backend (about a minute
// each), and the error its wasm backend gives. Too slow for npm run bench.
//   node bench/cnn-tfjs-train.mjs
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';

function model() {
  const bn = () => tfl.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9 });
  const m = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same', useBias: false }), bn(), tfl.layers.activation({ activation: 'relu' }), tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', useBias: false }), bn(), tfl.layers.activation({ activation: 'relu' }), tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(), tfl.layers.dense({ units: 128, useBias: false }), bn(), tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.dense({ units: 10 }), tfl.layers.activation({ activation: 'softmax' }),
    ],
  });
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  return m;
}

for (const backend of ['wasm', 'cpu']) {
  await tf.setBackend(backend);
  await tf.ready();
  const x = tf.randomUniform([64, 28, 28, 1]);
  const y = tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 10), 'int32'), 10), 'float32');
  const m = model();
  try {
    await m.trainOnBatch(x, y);
    const t0 = performance.now();
    for (let i = 0; i < 2; i++) await m.trainOnBatch(x, y);
    console.log(`tfjs ${backend}: CNN training step ${((performance.now() - t0) / 2 / 1000).toFixed(2)} s`);
  } catch (e) {
    console.log(`tfjs ${backend}: cannot train the CNN: ${e.message.split('\n')[0]}`);
  }
}
