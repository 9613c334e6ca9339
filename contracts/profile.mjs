// Gas per source line of one contract, from the per-program-counter gas that
// `sessionkeys-gas --profile` writes with SESSIONKEYS_GAS_PCS (docs/benchmarks.md, "Where S1 − S0
// goes"). Compiles as build.mjs does, with the deployed code's source map, and checks that the
// code is the committed artifact's, so the map belongs to the code that ran.
//
// Usage: node profile.mjs PCS_FILE ADDRESS [CONTRACT] [LINES]
//   PCS_FILE  lines of "address pc gas count"     ADDRESS   the contract's address in the run
//   CONTRACT  default SessionKeyValidator           LINES     how many lines to print (default 40)
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { contractSources, compilerInput } from "./compiler-input.mjs";

const require = createRequire(import.meta.url);
const solc = require("solc");
const root = dirname(fileURLToPath(import.meta.url));
const [pcsFile, address, contract = "SessionKeyValidator", lines = "40"] = process.argv.slice(2);
if (!pcsFile || !address) {
  console.error("usage: node profile.mjs PCS_FILE ADDRESS [CONTRACT] [LINES]");
  process.exit(2);
}
let pcs;
try {
  pcs = readFileSync(pcsFile, "utf8");
} catch (e) {
  console.error(`error: cannot read ${pcsFile} (${e.code ?? e.message}): give the file sessionkeys-gas wrote with SESSIONKEYS_GAS_PCS`);
  process.exit(2);
}

const sources = contractSources(root);
const input = compilerInput(sources, ["evm.deployedBytecode.object", "evm.deployedBytecode.sourceMap"]);
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const found = Object.entries(output.contracts ?? {}).find(([, cs]) => cs[contract]);
if (!found) {
  console.error(`error: no contract ${contract} in contracts/src or contracts/fixtures`);
  process.exit(2);
}
const compiled = found[1][contract].evm.deployedBytecode;
const artifact = JSON.parse(readFileSync(join(root, "artifacts", `${contract}.json`), "utf8"));
if (artifact.deployedBytecode !== "0x" + compiled.object) {
  console.error(`error: artifacts/${contract}.json is not the code of the sources: run node build.mjs first`);
  process.exit(2);
}

// pc -> "file:line" through the compressed source map (s:l:f:j:m, empty fields repeat).
const code = Buffer.from(compiled.object, "hex");
const fileOf = {};
for (const [name, s] of Object.entries(output.sources)) fileOf[s.id] = name;
const lineStarts = {};
for (const [name, s] of Object.entries(sources)) {
  const starts = [0];
  for (let i = 0; i < s.content.length; i++) if (s.content[i] === "\n") starts.push(i + 1);
  lineStarts[name] = starts;
}
const lineOf = (name, offset) => {
  const starts = lineStarts[name];
  let lo = 0, hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid; else hi = mid - 1;
  }
  return lo + 1;
};
const where = new Map();
const entries = compiled.sourceMap.split(";");
let start = -1, file = -1;
for (let pc = 0, i = 0; pc < code.length; i++) {
  const [s, , f] = (entries[i] ?? "").split(":");
  if (s) start = +s;
  if (f) file = +f;
  where.set(pc, fileOf[file] && sources[fileOf[file]] ? `${fileOf[file]}:${lineOf(fileOf[file], start)}` : "generated");
  const op = code[pc];
  pc += 1 + (op >= 0x60 && op <= 0x7f ? op - 0x5f : 0);
}

const perLine = new Map();
let total = 0;
for (const row of pcs.split("\n")) {
  const [a, pc, gas, count] = row.split(" ");
  if (!a || a.toLowerCase() !== address.toLowerCase()) continue;
  const at = where.get(+pc) ?? "generated";
  const entry = perLine.get(at) ?? { gas: 0, count: 0 };
  entry.gas += +gas;
  entry.count += +count;
  perLine.set(at, entry);
  total += +gas;
}
console.log(`${contract} at ${address}: ${total} gas in its own opcodes (calls excluded)`);
console.log("   gas  instr  line");
for (const [at, { gas, count }] of [...perLine].sort((x, y) => y[1].gas - x[1].gas).slice(0, +lines)) {
  let text = "";
  if (at !== "generated") {
    const [name, line] = [at.slice(0, at.lastIndexOf(":")), +at.slice(at.lastIndexOf(":") + 1)];
    text = sources[name].content.split("\n")[line - 1].trim().slice(0, 80);
  }
  console.log(`${String(gas).padStart(6)} ${String(count).padStart(6)}  ${at.replace("src/", "")}  ${text}`);
}
