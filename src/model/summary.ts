/** The one-table description `Sequential.summary()` prints: each layer, its input and output shapes, its parameters. */
import type { Network } from './network.js';

export function summaryTable(net: Network, backendName: string): string {
  const fmt = (shape: readonly number[]) => shape.join('×');
  const rows = net.layers.map((l, i) => {
    const params = l.paramSpecs().reduce((a, s) => a + s.size, 0);
    const inShape = i === 0 ? net.inputShape : net.shapes[i - 1]!;
    return `${String(i).padStart(3)}  ${l.describe().padEnd(18)} ${fmt(inShape).padStart(9)} → ${fmt(net.shapes[i]!).padEnd(9)} ${String(params).padStart(9)}`;
  });
  const header = `${'#'.padStart(3)}  ${'layer'.padEnd(18)} ${'in'.padStart(9)}   ${'out'.padEnd(9)} ${'params'.padStart(9)}`;
  return [header, ...rows, `trainable parameters: ${net.nParams}, backend: ${backendName}`].join('\n');
}
