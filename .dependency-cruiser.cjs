/**
 * The house rules for src/ (checked by test/house.test.ts): no import circle,
 * and imports run one way, from the faces down to the kernels:
 * backend ← model ← train ← io ← the faces (index, node, cli, experiment).
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'An import circle makes every module in it one room.', from: {}, to: { circular: true } },
    { name: 'backend-knows-no-model', severity: 'error', comment: 'Kernels and backends know nothing of layers, training or files.', from: { path: '^src/backend/' }, to: { path: '^src/(model|train|io|node|experiment)/' } },
    { name: 'model-knows-no-training', severity: 'error', comment: 'The network knows no losses, optimizers or files.', from: { path: '^src/model/', pathNot: '^src/model/sequential\\.ts$' }, to: { path: '^src/(train|io|node|experiment)/' } },
    { name: 'train-knows-no-files', severity: 'error', comment: 'The training loop knows no file layout beyond the byte codec.', from: { path: '^src/train/' }, to: { path: '^src/(io/model-file|node|experiment)' } },
    { name: 'core-is-browser-safe', severity: 'error', comment: 'Below the Node face nothing imports a Node built-in.', from: { path: '^src/(backend|model|train|io|data)/' }, to: { dependencyTypes: ['core'] } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.generated\\.ts$' },
  },
};
