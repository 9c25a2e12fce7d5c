// `npm start`: the incremental build (scripts/build.mjs, a fraction of a second
// when nothing changed) and then the CLI, in one Node process instead of a
// `prestart` script and a second start-up.
// Usage: node scripts/start.mjs <normcore command line>, e.g. train --epochs 3
await import('./build.mjs');
const { main } = await import('../dist/cli.js');
process.exitCode = await main(process.argv.slice(2));
