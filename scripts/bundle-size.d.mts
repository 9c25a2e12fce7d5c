export const PAGE: string;
export interface BundleFile {
  file: string;
  /** 'release', 'relaxed' or 'debug' for a chunk carrying that kernel build; 'entry' or 'shared' otherwise. */
  build: string;
  bytes: number;
  gzip: number;
}
export function bundle(dir?: string): Promise<{ dir: string; split: BundleFile[]; single: BundleFile[] }>;
