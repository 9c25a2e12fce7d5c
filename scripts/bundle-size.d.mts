export const PAGE: string;
export interface BundleFile {
  file: string;
  /** 'kernels' (the relaxed build), 'release-patch' (the release build's patch to it) or 'debug' for a chunk carrying that; 'entry' or 'shared' otherwise. */
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
/** What a page that trains as PAGE does loads: the entry, its static chunks (transitively) and the kernels chunk; `splitRelease` adds the release patch's chunk (an engine without relaxed SIMD). */
export function pageLoads(r: Bundled): { split: BundleFile[]; splitRelease: BundleFile[]; vite: BundleFile[] };
/** For each of `files` (outputs of `r.split`): its source modules, their minified bytes and gzip share (the file's gzip less that without them), largest first. */
export function moduleShares(r: Bundled, files: string[]): Promise<Array<{ file: string; gzip: number; modules: Array<{ module: string; bytes: number; gzip: number }> }>>;
