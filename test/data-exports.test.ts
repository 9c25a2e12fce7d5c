/**
 * Which entry exports what. The browser-safe data helpers are in 'normcore'; the Normalization layer and the
 * feature statistics are in 'normcore/data' (with the other data helpers, the same bindings), the convolution
 * layers in 'normcore/cnn'; 'normcore/node' has all of them and loadCsv. 'normcore' re-exports neither of the
 * split-off groups: its files would reach a page's bundle (see README, "In the browser").
 */
import { describe, expect, it } from 'vitest';
import * as core from '../src/index.js';
import * as cnn from '../src/cnn.js';
import * as data from '../src/data.js';
import * as node from '../src/node/index.js';
import { loadCsv } from '../src/node/csv.js';
import { METRICS } from '../src/train/metrics.js';
import { toMatrix } from '../src/data/convert.js';
import { featureStats } from '../src/data/stats.js';
import { Conv2d } from '../src/model/conv2d.js';
import { Normalization } from '../src/model/normalization.js';

const CNN = ['Conv2d', 'BatchNorm2d', 'MaxPool2d', 'AvgPool2d', 'GlobalAvgPool2d', 'Flatten', 'mnistCnn'] as const;
const DATA_ONLY = ['Normalization', 'featureStats', 'featureStatsStream', 'MomentsAccumulator', 'chunkMoments', 'mergeMoments', 'momentsToStats'] as const;
const DATA_SHARED = ['toMatrix', 'toTargets', 'targetKindForLoss', 'trainTestSplit', 'encodeRows', 'checkEncoding', 'DataError'] as const;

describe('entries', () => {
  it("'normcore' exports the data helpers a page needs, and none of the split-off groups", () => {
    expect(core.toMatrix).toBe(toMatrix);
    expect(core.METRICS).toBe(METRICS);
    for (const name of [...DATA_SHARED, 'confusionMatrix'] as const) expect(typeof core[name]).toBe('function');
    for (const name of [...CNN, ...DATA_ONLY, 'loadCsv']) expect(name in core).toBe(false);
  });

  it("'normcore/data' has Normalization, the statistics and the other data helpers (the same bindings as 'normcore')", () => {
    expect(data.Normalization).toBe(Normalization);
    expect(data.featureStats).toBe(featureStats);
    for (const name of DATA_ONLY) expect(typeof data[name]).toBe('function');
    for (const name of DATA_SHARED) expect(data[name]).toBe(core[name]);
  });

  it("'normcore/cnn' has the convolution layers and the MNIST CNN", () => {
    expect(cnn.Conv2d).toBe(Conv2d);
    for (const name of CNN) expect(typeof cnn[name]).toBe('function');
  });

  it("'normcore/node' has everything: the core, both groups and loadCsv", () => {
    expect(node.loadCsv).toBe(loadCsv);
    expect(typeof node.loadCsvEncoded).toBe('function');
    expect(node.trainTestSplit).toBe(core.trainTestSplit);
    for (const name of CNN) expect(node[name]).toBe(cnn[name]);
    for (const name of DATA_ONLY) expect(node[name]).toBe(data[name]);
  });
});
