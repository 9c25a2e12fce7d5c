/** What the threaded backend needs of its environment: createBackend imports it when threads are asked for, before it loads the pool (threads.ts). */

/** Why shared memory and workers cannot be used here, or undefined when they can. */
export function threadsUnavailable(): string | undefined {
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is not available (a browser page needs cross-origin isolation: COOP/COEP headers)';
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown; process?: { versions?: { node?: string } } };
  if (g.crossOriginIsolated === false) return 'the page is not cross-origin isolated (COOP/COEP headers), so memory cannot be shared with workers';
  if (!g.process?.versions?.node && typeof g.Worker !== 'function') return 'this environment has no Worker';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return 'this engine cannot create a shared WebAssembly.Memory';
  }
  return undefined;
}

/** The number of hardware threads: navigator.hardwareConcurrency, or os.availableParallelism() in Node. */
export async function hardwareThreads(): Promise<number> {
  const g = globalThis as { navigator?: { hardwareConcurrency?: number }; process?: { versions?: { node?: string } } };
  if (g.process?.versions?.node) {
    const spec = 'node:os';
    const os = await import(/* @vite-ignore */ spec) as { availableParallelism?: () => number; cpus: () => unknown[] };
    return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  }
  return g.navigator?.hardwareConcurrency ?? 1;
}
