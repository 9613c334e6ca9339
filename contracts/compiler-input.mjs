// The one standard-json input our contracts are compiled with: every .sol under src/ and
// fixtures/, and the settings the committed artifacts were built with. build.mjs writes the
// artifacts from it and profile.mjs maps gas to source lines through it, so the two cannot
// compile differently.
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

function solFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? solFiles(join(dir, e.name)) : e.name.endsWith(".sol") ? [join(dir, e.name)] : [],
  );
}

/** The sources under `root` (the contracts/ folder), keyed by their path relative to it. */
export function contractSources(root) {
  const sources = {};
  for (const file of [...solFiles(join(root, "src")), ...solFiles(join(root, "fixtures"))].sort()) {
    sources[relative(root, file)] = { content: readFileSync(file, "utf8") };
  }
  return sources;
}

/** The compiler input for `sources`, asking for `outputs` of every contract. */
export function compilerInput(sources, outputs) {
  return {
    language: "Solidity",
    sources,
    settings: {
      viaIR: true,
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      metadata: { bytecodeHash: "none", appendCBOR: false },
      outputSelection: { "*": { "*": outputs } },
    },
  };
}
