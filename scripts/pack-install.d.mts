export interface PackReport {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number; mode: number }[];
}
export function pack(dir: string, options?: { ignoreScripts?: boolean }): { tarball: string; report: PackReport };
export function closure(deps: Record<string, string>): Record<string, Record<string, unknown>>;
export function measure(dir: string): { bytes: number; packages: number };
export function packAndInstall(options?: { optional?: boolean; ignoreScripts?: boolean; dir?: string }): {
  dir: string;
  tarball: string;
  report: PackReport;
  installed: { bytes: number; packages: number };
};
