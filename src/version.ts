/** normcore's version, as in package.json (test/onnx-export.test.ts checks that they agree). Written into exported files. */
export const NORMCORE_VERSION = '0.2.0';
