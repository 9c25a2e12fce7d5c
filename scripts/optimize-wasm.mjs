// A second run of Binaryen's optimizer (-O3, the level asc used) over the release and relaxed builds,
// in place, with their text files rewritten to match. asc's own run leaves functions and locals in
// an order that deflates worse: this run makes the embedded module ~380 bytes smaller after Zopfli
// (11,687 → 11,303), for the single-file bundle's budget (issue 16), and changes no kernel's result
// (the optimizer preserves semantics; the whole test suite runs on the output).
// asc's shrinkLevel would do more, but it also swaps AssemblyScript's table-based Mathf.exp/log for
// older, less exact ones (ASC_SHRINK_LEVEL in its std/assembly/math.ts), which changes results.
//
//   node scripts/optimize-wasm.mjs build/release.wasm build/relaxed.wasm
import { readFileSync, writeFileSync } from 'node:fs';
import binaryen from 'binaryen';

for (const file of process.argv.slice(2)) {
  const module = binaryen.readBinary(readFileSync(file));
  module.setFeatures(binaryen.Features.All);
  binaryen.setOptimizeLevel(3);
  binaryen.setShrinkLevel(0);
  module.optimize();
  if (!module.validate()) throw new Error(`optimize-wasm: ${file} does not validate after the second run`);
  writeFileSync(file, module.emitBinary());
  writeFileSync(file.replace(/\.wasm$/, '.wat'), module.emitText());
  module.dispose();
}
