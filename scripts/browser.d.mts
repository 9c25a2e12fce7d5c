import type { Browser } from 'playwright-core';

export const ROOT: string;
export const CHROMIUM_PATH: string;
export const CHROMIUM_ARGS: string[];
export function chromiumAvailable(): boolean;
export function launchChromium(): Promise<Browser>;
export function serveDemo(options?: { quiet?: boolean }): Promise<{ url: string; close(): Promise<void> }>;
