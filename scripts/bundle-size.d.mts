export const PAGE: string;
export interface BundleFile {
  file: string;
  /** 'release', 'relaxed' or 'debug' for a chunk carrying that kernel build; 'entry' or 'shared' otherwise. */
  build: string;
  bytes: number;
  gzip: number;
  /** The dist/ modules in it (e.g. 'backend/js-kernels.js'); esbuild outputs only (empty for Vite's). */
  inputs: string[];
}
export interface Bundled { dir: string; split: BundleFile[]; single: BundleFile[]; vite: BundleFile[] }
export function bundle(dir?: string): Promise<Bundled>;
/** The chunks `file` (in `dir`) imports statically, transitively. */
export function staticClosure(dir: string, file: string): string[];
/** What a page that trains as PAGE does loads: the entry, its static chunks (transitively) and the kernels chunk. */
export function pageLoads(r: Bundled): { split: BundleFile[]; vite: BundleFile[] };
