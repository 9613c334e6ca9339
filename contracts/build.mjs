// Compiles our contracts with the pinned solc-js through --standard-json and writes one
// artifact per contract to artifacts/. With --check, compiles and exits 1 if any committed
// artifact differs (solc-js output is byte-identical across runs).
import { readFileSync, writeFileSync, readdirSync, mkdirSync, existsSync, rmSync } from "node:fs";
import { join, relative, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { contractSources, compilerInput } from "./compiler-input.mjs";

const require = createRequire(import.meta.url);
const solc = require("solc");
const root = dirname(fileURLToPath(import.meta.url));
const check = process.argv.includes("--check");
const outDir = join(root, "artifacts");

const sources = contractSources(root);
const input = compilerInput(sources, ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]);

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
for (const e of output.errors ?? []) console.error(e.formattedMessage);
if (errors.length) process.exit(2);

const artifacts = {};
for (const [sourceName, contracts] of Object.entries(output.contracts)) {
  if (sourceName.includes("/interfaces/") || sourceName.includes("/lib/") || sourceName.endsWith("SessionTypes.sol")) continue;
  for (const [contractName, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
    artifacts[contractName] = JSON.stringify(
      {
        contractName,
        sourceName,
        compiler: `solc-js ${solc.version()}`,
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      },
      null,
      2,
    ) + "\n";
  }
}

// ERC-7562 OP-012: in validation, GAS is allowed only as the gas argument of a call, i.e. right
// before CALL, CALLCODE, DELEGATECALL or STATICCALL. The optimizer schedules instructions, so a
// source change can move a GAS away from its call; refuse such code in every contract that
// runs during validation (the devnet's inspector catches it only on the paths a test runs).
const VALIDATION_CONTRACTS = ["SessionKeyValidator", "SessionSpecChecks", "SessionAccount", "SessionAccountFactory"];
const CALLS = new Set([0xf1, 0xf2, 0xf4, 0xfa]);
for (const name of VALIDATION_CONTRACTS) {
  const code = Buffer.from(JSON.parse(artifacts[name]).deployedBytecode.slice(2), "hex");
  const stray = [];
  for (let pc = 0; pc < code.length; ) {
    const op = code[pc];
    const next = pc + 1 + (op >= 0x60 && op <= 0x7f ? op - 0x5f : 0);
    if (op === 0x5a && !CALLS.has(code[next])) stray.push(pc);
    pc = next;
  }
  if (stray.length) {
    console.error(`${name}: GAS not followed by a call at pc ${stray.join(", ")} (ERC-7562 OP-012); reorder the source around that call`);
    process.exit(1);
  }
}

if (check) {
  let stale = [];
  const committed = existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith(".json")) : [];
  for (const [name, text] of Object.entries(artifacts)) {
    const path = join(outDir, `${name}.json`);
    if (!existsSync(path) || readFileSync(path, "utf8") !== text) stale.push(name);
  }
  for (const f of committed) if (!(f.replace(/\.json$/, "") in artifacts)) stale.push(f);
  if (stale.length) {
    console.error(`artifacts are stale: ${stale.join(", ")}; run 'npm run build' in contracts/ and commit`);
    process.exit(1);
  }
  console.log(`artifacts fresh (${Object.keys(artifacts).length} contracts, ${solc.version()})`);
} else {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir);
  for (const [name, text] of Object.entries(artifacts)) writeFileSync(join(outDir, `${name}.json`), text);
  console.log(`wrote ${Object.keys(artifacts).length} artifacts to ${relative(process.cwd(), outDir) || "."}`);
}
