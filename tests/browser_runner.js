// Drives Debian's chromium (headless, through the npm package `playwright-core`, installed by
// `make tests/.node/.installed`) for tests/browser.py: one browser for a whole pytest worker.
//
//   node tests/browser_runner.js NODE_MODULES_DIR CHROMIUM PAGE_URL PROFILE_DIR
//
// PAGE_URL is a page on 127.0.0.1 (served by the test) that loads mermaid and sets
// window.mermaidReady. Every other request the page makes is refused and reported.
// Then one JSON request per stdin line, one JSON answer per stdout line:
//   {"op": "render", "blocks": ["xychart-beta\n...", ...]}
//     -> {"results": [{"ok", "type", "error", "svg", "labels", "title", "x_labels", "y_title",
//                      "bars",
//                      "lines", "active"}, ...], "blocked": [urls],
//         "page_errors": [messages]}
//   {"op": "screenshot", "html": "<p>a rendered comment</p>", "path": "out.png"}
//     -> {"results": [...each mermaid block of the html...], "blocked": [urls]}
// Exit 0 when stdin closes, 2 when the browser cannot start (the reason on stderr).
"use strict";

const readline = require("node:readline");

const { launch } = require("./chromium_launch.js");


// In the page: parse, then render each block; an SVG's text is what a reader sees.
async function renderBlocks(blocks) {
  const results = [];
  for (const [index, source] of blocks.entries()) {
    const result = { ok: false, type: null, error: null, svg: null, labels: null, title: null, x_labels: null, y_title: null, bars: 0, lines: 0, active: null };
    try {
      const parsed = await window.mermaid.parse(source);
      result.type = parsed && parsed.diagramType;
      const { svg } = await window.mermaid.render(`mlgate-chart-${Date.now()}-${index}`, source);
      result.svg = svg;
      const holder = document.createElement("div");
      holder.innerHTML = svg;
      // What a reader sees: the SVG's text nodes (not its <style>), and its shape.
      const texts = (selector) => [...holder.querySelectorAll(selector)].map((n) => n.textContent);
      result.labels = texts("text");
      result.title = texts(".chart-title text");
      result.x_labels = texts(".bottom-axis .label text");
      result.y_title = texts(".left-axis .title text");
      result.bars = holder.querySelectorAll('.plot g[class^="bar-plot"] rect').length;
      result.lines = holder.querySelectorAll('.plot g[class^="line-plot"] path').length;
      // Anything active: scripts, links, embedded HTML, event handlers.
      result.active = [...holder.querySelectorAll("*")]
        .filter(
          (node) =>
            ["script", "a", "foreignobject", "iframe"].includes(node.localName.toLowerCase()) ||
            [...node.attributes].some((a) => /^on/i.test(a.name) || /javascript:/i.test(a.value)),
        )
        .map((node) => node.outerHTML.slice(0, 200));
      result.ok = true;
    } catch (error) {
      result.error = String((error && error.message) || error);
    }
    results.push(result);
  }
  return results;
}

// In the page: show a rendered comment the way GitHub does, each mermaid block drawn.
async function showComment(html) {
  document.body.innerHTML = `<article class="comment">${html}</article>`;
  const blocks = [...document.querySelectorAll('pre[lang="mermaid"]')];
  const sources = blocks.map((pre) => pre.textContent);
  const results = await window.renderBlocks(sources);
  blocks.forEach((pre, i) => {
    if (results[i].ok) {
      const figure = document.createElement("div");
      figure.className = "mermaid";
      figure.innerHTML = results[i].svg;
      pre.replaceWith(figure);
    }
  });
  return results;
}

async function main(argv) {
  const [modules, executable, url, profile] = argv;
  if (!modules || !executable || !url || !profile) {
    throw new Error("usage: node browser_runner.js NODE_MODULES CHROMIUM PAGE_URL PROFILE_DIR");
  }
  const context = await launch(modules, executable, profile, { width: 900, height: 700 });
  const origin = new URL(url).origin;
  let blocked = [];
  await context.route("**/*", (route) => {
    const target = route.request().url();
    if (target.startsWith(origin + "/") || target.startsWith("data:")) return route.continue();
    blocked.push(target);
    return route.abort();
  });
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(url);
  await page.waitForFunction(() => window.mermaidReady === true, null, { timeout: 20000 });
  // The helpers live in the page, so a comment's blocks render where its HTML is.
  await page.evaluate(`window.renderBlocks = ${renderBlocks}; window.showComment = ${showComment};`);
  process.stdout.write(JSON.stringify({ ready: true }) + "\n");

  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const request = JSON.parse(line);
    let answer;
    blocked = [];
    try {
      if (request.op === "render") {
        answer = { results: await page.evaluate((b) => window.renderBlocks(b), request.blocks) };
      } else if (request.op === "screenshot") {
        await page.setViewportSize({ width: request.width || 900, height: 700 });
        const results = await page.evaluate((html) => window.showComment(html), request.html);
        await page.screenshot({ path: request.path, fullPage: true });
        answer = { results };
      } else {
        answer = { error: `unknown op ${request.op}` };
      }
    } catch (error) {
      answer = { error: String((error && error.stack) || error) };
    }
    answer.blocked = blocked;
    answer.page_errors = errors.splice(0);
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
  await context.close();
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`browser_runner: ${error && error.stack ? error.stack : error}\n`);
    process.exit(2);
  },
);
