#!/usr/bin/env node
// Screenshot of a report.html in headless Chromium (Debian's /usr/bin/chromium), for docs/.
// Usage: node scripts/report-screenshot.js models/runs/<run-id>/report.html docs/report.png [width] [maxHeight]
const path = require('node:path');
const { chromium } = require('playwright-core');

async function main() {
  const [report, out, width = '1100', maxHeight = '0'] = process.argv.slice(2);
  if (!report || !out) throw new Error('Usage: node scripts/report-screenshot.js REPORT_HTML OUT_PNG [width] [maxHeight]');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: Number(width), height: 900 } });
    await page.goto(`file://${path.resolve(report)}`);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    const clipHeight = Number(maxHeight) > 0 ? Math.min(height, Number(maxHeight)) : height;
    await page.screenshot({ path: out, fullPage: true, clip: { x: 0, y: 0, width: Number(width), height: clipHeight } });
    process.stderr.write(`${out}: ${width}x${clipHeight} (page ${height} px high)\n`);
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
