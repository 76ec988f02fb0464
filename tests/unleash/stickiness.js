// The official Node SDK (unleash-client) as an independent stickiness
// reference for cutover's tests (tests/integration/unleash.rs).
//
//   node tests/unleash/stickiness.js FLAGS_FILE KEYS FIELD
//
// Bootstraps the SDK from FLAGS_FILE (the Unleash client-features shape),
// with no server, no polling and no metrics, then evaluates every flag in the
// file for the keys `key-0` .. `key-(KEYS-1)`, each put in the context field
// FIELD (userId, sessionId, or a custom property), and prints one JSON object:
// {"FLAG": [indices of the keys the flag is on for], ...}.
'use strict';
const { Unleash, InMemStorageProvider } = require('unleash-client');
const fs = require('fs');

const [file, keysText, field] = process.argv.slice(2);
if (!file || !keysText || !field) {
  console.error('usage: node stickiness.js FLAGS_FILE KEYS FIELD');
  process.exit(2);
}
const keys = Number(keysText);
const flags = JSON.parse(fs.readFileSync(file, 'utf8')).features.map((f) => f.name);

const unleash = new Unleash({
  // Never contacted: refreshInterval 0 and bootstrap only. Port 9 is discard.
  url: 'http://127.0.0.1:9/api',
  appName: 'cutover-stickiness-reference',
  refreshInterval: 0,
  disableMetrics: true,
  storageProvider: new InMemStorageProvider(),
  bootstrap: { filePath: file },
});
unleash.on('error', () => {}); // the unreachable URL; bootstrap is what counts
unleash.on('warn', () => {});

unleash.on('ready', () => {
  const out = {};
  for (const flag of flags) {
    const on = [];
    for (let i = 0; i < keys; i++) {
      const key = `key-${i}`;
      let context;
      if (field === 'userId') context = { userId: key };
      else if (field === 'sessionId') context = { sessionId: key };
      else context = { properties: { [field]: key } };
      if (unleash.isEnabled(flag, context)) on.push(i);
    }
    out[flag] = on;
  }
  unleash.destroy();
  // Exit only once the whole output is flushed: stdout is asynchronous on pipes.
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
});
setTimeout(() => {
  console.error('the Node SDK did not become ready within 20 s');
  process.exit(3);
}, 20000).unref();
