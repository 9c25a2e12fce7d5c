#!/usr/bin/env node
/**
 * Entry of `npm run experiment` (node dist/experiment/run.js bn-paper [flags])
 * and `npm run experiment:landscape` (… bn-landscape [flags]):
 * the same command as `normcore experiment …`.
 */
import { experimentMain } from './cli.js';

process.exitCode = await experimentMain(process.argv.slice(2));
