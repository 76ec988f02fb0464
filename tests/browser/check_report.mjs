// Loads a cutover index.html in Debian's headless chromium and reports what
// a person would see, as one JSON object on stdout (the Rust test in
// tests/integration/browser.rs makes the assertions):
//
//   node tests/browser/check_report.mjs PAGE.html SCREENSHOT_DIR [FILTER [SEARCHES]]
//
// SEARCHES is a JSON array of queries typed into the filter box one after
// the other; for each, what the page then shows: the visible groups and
// record ids, the filter status, and the search message and command.
//
// It reads the counts the page shows, expands the first mismatch and reads
// its diff, types into the filter box, records every network request, page
// error and console message, and checks that no captured payload ran:
// payloads try to set window.__xss or change document.title. Screenshots:
// SCREENSHOT_DIR/overview.png and SCREENSHOT_DIR/expanded.png.
//
// Exits 2 (and the test fails) when chromium is not installed: the test
// command installs it; a browser test must never pass by not running.

import { launch } from "./chromium.mjs";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [page_path, shots] = process.argv.slice(2);
if (!page_path || !shots) {
  console.error("usage: check_report.mjs PAGE.html SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const url = pathToFileURL(resolve(page_path)).href;

const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
  const page = await context.newPage();
  const requests = [];
  const errors = [];
  const console_messages = [];
  const dialogs = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => console_messages.push(`${m.type()}: ${m.text()}`));
  page.on("dialog", async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  await page.goto(url, { waitUntil: "load" });

  const counts = await page.$$eval("[data-count]", (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.count, Number(e.textContent.trim())])));
  const group_counts = await page.$$eval("[data-group-count]", (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.groupCount, Number(e.textContent.trim())])));
  const filter_status_initial = await page.textContent("#filter-status");
  await page.screenshot({ path: `${shots}/overview.png`, fullPage: false });

  // Expand the first mismatch: its diff must become visible.
  const first = page.locator("details.record").first();
  const record_count = await page.locator("details.record").count();
  let expanded = null;
  if (record_count > 0) {
    // The answers' diff (the first table), then the diffs inside strings.
    const diff = first.locator("table.diff").first();
    const visible_before = await diff.isVisible();
    await first.locator("summary").click();
    await diff.waitFor({ state: "visible", timeout: 5000 });
    expanded = {
      visible_before,
      visible_after: await diff.isVisible(),
      summary: (await first.locator("summary").textContent()).trim(),
      diff_text: await diff.innerText(),
      removed_cells: await diff.locator("td.removed").count(),
      added_cells: await diff.locator("td.added").count(),
      marks: await diff.locator("mark").count(),
      marked_text: await diff.locator("mark").allTextContents(),
      strings: await first.locator("div.strdiff").evaluateAll((els) =>
        els.map((e) => ({
          path: e.dataset.path,
          visible: e.checkVisibility(),
          text: e.innerText,
          marked_text: [...e.querySelectorAll("mark")].map((m) => m.textContent),
        }))),
    };
    await first.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${shots}/expanded.png`, fullPage: false });
  }

  // The filter box: a query that only one group's signature has.
  const query = process.argv[4] || "candidate_error";
  await page.fill("#filter", query);
  const filter = {
    query,
    visible_groups: await page.locator("section.group:visible").count(),
    status: await page.textContent("#filter-status"),
  };
  await page.fill("#filter", "");

  const searches = [];
  for (const q of JSON.parse(process.argv[5] || "[]")) {
    await page.fill("#filter", q);
    searches.push({
      query: q,
      visible_groups: await page.$$eval("section.group", (els) =>
        els.filter((e) => !e.hidden).map((e) => e.dataset.group)),
      visible_records: await page.$$eval("details.record", (els) =>
        els.filter((e) => !e.hidden && !e.closest("section").hidden).map((e) => e.dataset.id)),
      status: await page.textContent("#filter-status"),
      result_visible: await page.locator("#search-result").isVisible(),
      message: await page.textContent("#search-message"),
      command_visible: await page.locator("#search-command").isVisible(),
      command: await page.textContent("#search-command"),
    });
    await page.screenshot({ path: `${shots}/search-${searches.length}.png`, fullPage: false });
  }
  await page.fill("#filter", "");

  const state = await page.evaluate(() => ({
    title: document.title,
    xss: typeof window.__xss === "undefined" ? null : window.__xss,
    scripts: document.querySelectorAll("script").length,
    script_srcs: Array.from(document.querySelectorAll("script[src]")).map((s) => s.src),
    imgs: document.querySelectorAll("img").length,
    iframes: document.querySelectorAll("iframe").length,
    links: Array.from(document.querySelectorAll("a[href]")).map((a) => a.getAttribute("href")),
    event_handler_attributes: Array.from(document.querySelectorAll("*")).flatMap((el) =>
      Array.from(el.attributes).filter((a) => a.name.startsWith("on")).map((a) => `${el.tagName}.${a.name}`)),
    svg_count: document.querySelectorAll("svg").length,
    text: document.body.innerText,
    all_text: document.body.textContent,
  }));

  const result = {
    url, counts, group_counts, record_count, filter_status_initial, expanded, filter, searches,
    requests, errors, console: console_messages, dialogs, ...state,
    screenshots: [`${shots}/overview.png`, ...(expanded ? [`${shots}/expanded.png`] : [])],
  };
  process.stdout.write(JSON.stringify(result));
} finally {
  await browser.close();
}
