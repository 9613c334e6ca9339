// Checks that `npm install` kept every version the committed lockfile pins.
//
// Usage: node e2e/check-lock.mjs COMMITTED_LOCK INSTALLED_LOCK
// (INSTALLED_LOCK: npm's record of what it installed, node_modules/.package-lock.json, as
// scripts/e2e installs with --no-save and leaves the committed lockfile alone.)
//
// `npm install` may add other platforms' optional packages (darwin, win32 builds of native
// helpers) when the registry mirror knows them, and drop them when it does not; those entries
// say nothing about what runs here. Everything else must be identical: same packages, same
// versions, same integrity hashes.
import { readFileSync } from "node:fs";

const [committedPath, installedPath] = process.argv.slice(2);
if (!committedPath || !installedPath) {
  console.error("usage: node e2e/check-lock.mjs COMMITTED_LOCK INSTALLED_LOCK");
  process.exit(2);
}
// The "" entry is the project itself, not an installed package (npm's record has none).
const packages = (path) => {
  const { "": _project, ...installed } = JSON.parse(readFileSync(path, "utf8")).packages ?? {};
  return installed;
};
const committed = packages(committedPath);
const installed = packages(installedPath);

const problems = [];
const describe = (entry) => `${entry.version ?? "?"} (${entry.integrity ?? "no integrity"})`;
for (const [name, pinned] of Object.entries(committed)) {
  const now = installed[name];
  if (!now) {
    if (!pinned.optional) problems.push(`${name}: pinned ${pinned.version}, no longer installed`);
  } else if (now.version !== pinned.version || (pinned.integrity && now.integrity !== pinned.integrity)) {
    problems.push(`${name}: pinned ${describe(pinned)}, npm chose ${describe(now)}`);
  }
}
for (const [name, entry] of Object.entries(installed)) {
  if (!committed[name] && !entry.optional) {
    problems.push(`${name}: ${entry.version} added, not in the committed lockfile`);
  }
}
if (problems.length > 0) {
  console.error("e2e: npm install did not keep the committed lockfile's versions:");
  for (const problem of problems) console.error(`  ${problem}`);
  console.error("Pin the versions in e2e/package.json, run `npm install --prefix e2e` (without --no-save it writes the lockfile) and commit the lockfile.");
  process.exit(1);
}
