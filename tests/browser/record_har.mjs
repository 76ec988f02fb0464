// Drives Debian's headless chromium against a running HTTP service and
// records what it sent and got as a HAR file, with Playwright's recordHar
// (the tests in tests/integration/har.rs import and replay that file):
//
//   node tests/browser/record_har.mjs BASE_URL OUT.har
//
// It opens BASE_URL/health, then, from that page, fetches a few routes of
// the worked HTTP migration's service (a GET with `+` in the query: the
// planted route; a JSON POST; a text POST; an item; a 404), and closes the
// context, which writes the HAR (bodies embedded). Every request carries
// the cookie `session=cutover-browser-cookie-secret`. Prints the number of
// fetches it made. Exits 2 when chromium is not installed.

import { launch } from "./chromium.mjs";

const [base, out] = process.argv.slice(2);
if (!base || !out) {
  console.error("usage: record_har.mjs BASE_URL OUT.har");
  process.exit(2);
}
const browser = await launch();
const context = await browser.newContext({ recordHar: { path: out, content: "embed" } });
// A cookie the browser sends with every request: `cutover import` redacts it.
await context.addCookies([{ name: "session", value: "cutover-browser-cookie-secret", url: base }]);
const page = await context.newPage();
await page.goto(`${base}/health`);
const made = await page.evaluate(async () => {
  const calls = [
    ["/normalize?item=+padded+&item=b", {}],
    ["/normalize?item=a%20b", {}],
    ["/normalize", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ items: [" x ", "y"] }) }],
    ["/normalize", { method: "POST", headers: { "content-type": "text/plain" }, body: " one \ntwo" }],
    ["/items/1?fields=name", {}],
    ["/items?owner=u1&limit=2", { headers: { accept: "text/plain" } }],
    ["/nowhere", {}],
  ];
  for (const [path, init] of calls) {
    const r = await fetch(path, init);
    await r.text();
  }
  return calls.length;
});
await context.close();
await browser.close();
console.log(JSON.stringify({ fetches: made }));
