/**
 * What Sequential loads on first use, in one module: the model-file reader
 * with its table of every layer type (load, checkpointInfo, resumeFrom), and
 * what runs only with a streamed source (the streamed fit, evaluation over a
 * source). A bundler gives each dynamically imported module a chunk of its
 * own and moves the code such a chunk shares with the page into chunks of
 * their own, which gzip worse; one module for both keeps what the page loads
 * in one shared chunk, and a page that trains on arrays fetches neither
 * (test/browser-split.test.ts).
 */
export { parseFile, resumeFrom } from './model-parse.js';
export { checkStreamFit, runStreamFit, evaluateStream } from '../train/fit-stream.js';
