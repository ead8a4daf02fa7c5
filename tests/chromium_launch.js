// The quiet, disposable headless chromium both browser runners drive (tests/browser_runner.js,
// tests/site_runner.js), through the npm package `playwright-core` in NODE_MODULES_DIR.
"use strict";

const path = require("node:path");

// No GPU, no QUIC, no first-run UI, nothing fetched in the background (component updates,
// sync, safe-browsing lists).
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// A persistent context on a fresh directory: the profile is --user-data-dir, and new.
async function launch(modules, executable, profile, viewport) {
  const { chromium } = require(path.join(path.resolve(modules), "playwright-core"));
  return chromium.launchPersistentContext(profile, {
    executablePath: executable,
    headless: true,
    args: FLAGS,
    viewport,
    deviceScaleFactor: 1,
  });
}

module.exports = { launch };
