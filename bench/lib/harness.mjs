// Interleaved measurement with tinybench.
//
// A benchmark "case" is one workload (e.g. matmul 128×784×256) with one task
// per peer (normcore wasm, normcore js, TensorFlow.js cpu, TensorFlow.js
// wasm). All cases of all sections are measured in `rounds` rounds; each
// round visits every peer in turn (odd rounds in reverse order) and gives each of its tasks `timeMs` of
// tinybench time (at least `minIterations` calls). So every peer is measured
// all along the run, and slow drift of a shared, noisy machine hits all of
// them alike. The reported value is the median of all samples of all rounds;
// the first round also warms up (JIT, wasm tier-up, caches, tfjs kernels).
import { Bench } from 'tinybench';

/**
 * @typedef {'wasm' | 'js' | 'tfjs-cpu' | 'tfjs-wasm'} PeerName
 * @typedef {{ name: PeerName, activate: () => Promise<void> }} Peer
 * @typedef {{
 *   section: string,
 *   name: string,
 *   unit: 'GFLOP/s' | 'GB/s' | 'ms',
 *   work?: number,            // flops (GFLOP/s) or bytes (GB/s) per call
 *   tasks: Partial<Record<PeerName, () => unknown>>,
 *   perCall?: number | Partial<Record<PeerName, number>>, // units of work per call (e.g. training steps); default 1
 *   timeMs?: number,          // tinybench time per task per round (default: the run's)
 *   warmupIterations?: number, // calls in the first round's warm-up (default 2)
 * }} Case
 */

/**
 * Runs every case on every peer, interleaved over rounds.
 * @param {Peer[]} peers
 * @param {Case[]} cases
 * @param {{ rounds: number, timeMs: number, minIterations: number, log?: (s: string) => void }} options
 * @returns {Promise<Map<Case, Partial<Record<PeerName, { median: number, samples: number }>>>>} median ms per call
 */
export async function measure(peers, cases, options) {
  const { rounds, timeMs, minIterations, log = () => {} } = options;
  /** @type {Map<Case, Map<PeerName, number[]>>} */
  const samples = new Map(cases.map((c) => [c, new Map()]));
  for (let round = 0; round < rounds; round++) {
    const t0 = performance.now();
    // odd rounds visit the peers in reverse, so that no peer is always measured right after the same one
    for (const peer of round % 2 ? [...peers].reverse() : peers) {
      const mine = cases.filter((c) => c.tasks[peer.name]);
      if (mine.length === 0) continue;
      await peer.activate();
      for (const c of mine) {
        const bench = new Bench({
          time: c.timeMs ?? timeMs,
          iterations: minIterations,
          warmup: round === 0 && (c.warmupIterations ?? 2) > 0,
          warmupTime: Math.min(200, c.timeMs ?? timeMs),
          warmupIterations: c.warmupIterations ?? 2,
          retainSamples: true,
          throws: true,
        });
        bench.add(`${c.section} ${c.name} ${peer.name}`, c.tasks[peer.name]);
        await bench.run();
        const r = bench.tasks[0].result;
        if (r.state !== 'completed') throw new Error(`${c.section} ${c.name} on ${peer.name}: ${r.state}`);
        const list = samples.get(c).get(peer.name) ?? [];
        list.push(...r.latency.samples);
        samples.get(c).set(peer.name, list);
      }
    }
    log(`round ${round + 1}/${rounds}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const out = new Map();
  for (const [c, byPeer] of samples) {
    const res = {};
    for (const [p, s] of byPeer) res[p] = { median: median(s), samples: s.length };
    out.set(c, res);
  }
  return out;
}

/** Median of a list of numbers. */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
