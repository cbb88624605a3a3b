// npm scripts put node_modules/.bin first on PATH, where the `node` devDependency installs Node 22.
// Installing with --ignore-scripts skips that binary and the scripts silently run on the system
// Node (20 here), which current wrangler refuses: fail early with a clear message instead.
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(
    `iopo needs Node >= 22 but this is Node ${process.versions.node}.\n` +
      "Run `npm ci` (without --ignore-scripts): it installs Node 22 from the `node` devDependency, " +
      "which npm scripts use automatically.",
  );
  process.exit(1);
}
