// Drives Debian's chromium (headless, via the npm package `playwright-core`) over the pages
// of `mlgate site` for tests/render/test_site_browser.py: one browser per test module.
//
//   node tests/site_runner.js NODE_MODULES_DIR CHROMIUM ORIGIN PROFILE_DIR
//
// ORIGIN is the loopback server of the site (`mlgate ui`'s); a request anywhere else is
// refused and reported. One JSON request per stdin line, one JSON answer per stdout line:
//   {"url": "...", "screenshot": "out.png" | null, "tab": true | false, "scheme": "light"}
//     -> {"status", "console_errors", "page_errors", "failed", "blocked", "requests",
//         "links", "tabbed", "svgs", "version_rows", "active", "text"}
// Exit 0 when stdin closes, 2 when the browser cannot start (the reason on stderr).
"use strict";

const readline = require("node:readline");

const { launch } = require("./chromium_launch.js");


// In the page: what a reader, a screen reader and a script would find.
function inspect() {
  const text = (node) => (node ? node.textContent : null);
  const svgs = [...document.querySelectorAll("svg")].map((svg) => ({
    id: svg.id,
    points: svg.querySelectorAll("circle.point").length,
    data_points: svg.getAttribute("data-points"),
    title: text(svg.querySelector(":scope > title")),
    desc: text(svg.querySelector(":scope > desc")),
    labelledby: svg.getAttribute("aria-labelledby"),
    width: svg.getBoundingClientRect().width,
  }));
  const version_rows = [...document.querySelectorAll("table.versions tbody tr")].map((tr) => ({
    version: tr.dataset.version,
    tag: tr.dataset.tag,
    kind: tr.dataset.kind,
    source: tr.dataset.source,
    commit: tr.dataset.commit,
    current: tr.classList.contains("current"),
    cells: [...tr.children].map((c) => c.textContent.trim()),
  }));
  const active = [...document.querySelectorAll("*")]
    .filter(
      (node) =>
        ["script", "iframe", "object", "embed", "foreignobject", "img", "form"].includes(node.localName.toLowerCase()) ||
        [...node.attributes].some((a) => /^on/i.test(a.name) || /javascript:/i.test(a.value)),
    )
    .map((node) => node.outerHTML.slice(0, 200));
  const links = [...document.querySelectorAll("a[href]")].map((a) => a.href);
  return { svgs, version_rows, active, links, text: document.body.innerText };
}

async function main(argv) {
  const [modules, executable, origin, profile] = argv;
  if (!modules || !executable || !origin || !profile) {
    throw new Error("usage: node site_runner.js NODE_MODULES CHROMIUM ORIGIN PROFILE_DIR");
  }
  const context = await launch(modules, executable, profile, { width: 1000, height: 800 });
  let blocked = [];
  let requests = [];
  let failed = [];
  let consoleErrors = [];
  let pageErrors = [];
  await context.route("**/*", (route) => {
    const target = route.request().url();
    if (target.startsWith(origin + "/")) return route.continue();
    blocked.push(target);
    return route.abort();
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("request", (request) => requests.push(request.url()));
  page.on("requestfailed", (request) => failed.push(`${request.url()} ${request.failure() && request.failure().errorText}`));
  page.on("response", (response) => {
    if (response.status() >= 400) failed.push(`${response.url()} HTTP ${response.status()}`);
  });
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  process.stdout.write(JSON.stringify({ ready: true }) + "\n");

  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const request = JSON.parse(line);
    blocked = [];
    requests = [];
    failed = [];
    consoleErrors = [];
    pageErrors = [];
    let answer;
    try {
      await page.emulateMedia({ colorScheme: request.scheme || "light" });
      const response = await page.goto(request.url, { waitUntil: "load" });
      answer = { status: response ? response.status() : null, ...(await page.evaluate(inspect)) };
      answer.tabbed = [];
      if (request.tab) {
        // Tab from the top of the page until focus comes back round: every link reached.
        await page.evaluate(() => document.activeElement && document.activeElement.blur());
        for (let i = 0; i < answer.links.length + 20; i++) {
          await page.keyboard.press("Tab");
          const href = await page.evaluate(() => {
            const el = document.activeElement;
            return el && el.localName === "a" ? el.href : el ? el.localName : null;
          });
          answer.tabbed.push(href);
        }
      }
      if (request.screenshot) {
        await page.screenshot({ path: request.screenshot, fullPage: false });
      }
    } catch (error) {
      answer = { error: String((error && error.stack) || error) };
    }
    Object.assign(answer, {
      blocked,
      requests,
      failed,
      console_errors: consoleErrors,
      page_errors: pageErrors,
    });
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
  await context.close();
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`site_runner: ${error && error.stack ? error.stack : error}\n`);
    process.exit(2);
  },
);
