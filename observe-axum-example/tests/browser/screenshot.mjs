// Takes the screenshot of docs/dashboard.png from a running reference server:
//   node screenshot.mjs http://127.0.0.1:8080 ../../../docs/dashboard.png
// (start the server and give it a few minutes of traffic first; see docs/dashboard.md).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [base = 'http://127.0.0.1:8080', out = 'dashboard.png', scheme = 'light'] = process.argv.slice(2);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'observe-chromium-'));
const context = await chromium.launchPersistentContext(dir, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1280, height: 900 },
  colorScheme: scheme, locale: 'en-GB',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const page = context.pages()[0] || (await context.newPage());
await page.goto(base + '/monitoring/dashboard');
await page.waitForSelector('#conn[data-state="live"]');
await page.waitForTimeout(1500);
await page.screenshot({ path: out, fullPage: true });
await context.close();
