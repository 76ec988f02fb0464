// Debian's headless chromium, launched the one way every browser script here
// launches it. Exits 2 when chromium is not installed: the test command
// installs it; a browser test must never pass by not running.

import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

export const CHROMIUM = process.env.CUTOVER_CHROMIUM || "/usr/bin/chromium";

export async function launch() {
  if (!existsSync(CHROMIUM)) {
    console.error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; scripts/test does it)`);
    process.exit(2);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}
