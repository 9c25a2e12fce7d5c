/** The data helpers are reachable from the package entries: the browser-safe ones from 'normcore', loadCsv from 'normcore/node'. */
import { describe, expect, it } from 'vitest';
import * as core from '../src/index.js';
import * as node from '../src/node/index.js';
import { loadCsv } from '../src/node/csv.js';
import { METRICS } from '../src/train/metrics.js';
import { toMatrix } from '../src/data/convert.js';

describe('entries', () => {
  it('export the data helpers', () => {
    expect(core.toMatrix).toBe(toMatrix);
    expect(core.METRICS).toBe(METRICS);
    for (const name of ['toTargets', 'trainTestSplit', 'featureStats', 'featureStatsStream', 'MomentsAccumulator', 'confusionMatrix', 'encodeRows', 'DataError'] as const) {
      expect(typeof core[name]).toBe('function');
    }
    expect(node.loadCsv).toBe(loadCsv);
    expect(typeof node.loadCsvEncoded).toBe('function');
    expect(node.trainTestSplit).toBe(core.trainTestSplit);
    expect('loadCsv' in core).toBe(false);
  });
});
