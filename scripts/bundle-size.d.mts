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
/** For each of `files` (outputs of `r.split`): its source modules, their minified bytes and gzip share (the file's gzip less that without them), largest first. */
export function moduleShares(r: Bundled, files: string[]): Promise<Array<{ file: string; gzip: number; modules: Array<{ module: string; bytes: number; gzip: number }> }>>;
