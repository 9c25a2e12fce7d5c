import { createBackend, Sequential, Dense, BatchNorm, ReLU } from 'normcore';
import { loadMnist } from 'normcore/node';

const { trainImages, trainLabels, testImages, testLabels } = loadMnist({ train: 8000, test: 2000 });
const model = new Sequential([
  new Dense(784, 128), new BatchNorm(128), new ReLU(),   // no bias before BatchNorm
  new Dense(128, 10),
], { backend: await createBackend('wasm'), seed: 1 });
model.compile({ loss: 'softmaxCrossEntropy', optimizer: { type: 'adam', lr: 0.002 } });
await model.fit(trainImages, trainLabels, { epochs: 3, batchSize: 64,
  onEpochEnd: (e, l) => console.log(`epoch ${e + 1}  loss ${l.loss.toFixed(3)}  ${l.seconds.toFixed(2)} s`) });
console.log(model.evaluate(testImages, testLabels));   // inference: running statistics
