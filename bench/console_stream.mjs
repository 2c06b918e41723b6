// The console under a stream of decisions: the live page open in headless Chromium while
// bench/console_push.mjs (a process of its own) pushes RATE decisions/s for SECS seconds
// (POST /v1/decisions). Measured in the page: event-loop lag (a 10 ms timer's lateness)
// and input latency (a PageDown/PageUp on the list until the next frame, and a click on
// Pause until its state changed; resumed at once), during the load and, as a baseline, idle before it.
// Env: BASE, PW, CHROMIUM, AUDITOR, AGENT, RATE (1000), SECS (10). Prints one JSON line.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PW);
const { BASE, AUDITOR, AGENT } = process.env;
const RATE = Number(process.env.RATE || 1000), SECS = Number(process.env.SECS || 10);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
await page.goto(`${BASE}/signin`);
await page.fill('#token', AUDITOR);
await page.click('#signin-token');
await page.waitForSelector('#live-list[data-stream="open"]');

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null; };

async function probe(ms) {
  // event-loop lag inside the page
  await page.evaluate(() => {
    window.__lag = []; let last = performance.now();
    window.__lagTimer = setInterval(() => { const t = performance.now(); window.__lag.push(Math.max(0, t - last - 10)); last = t; }, 10);
  });
  const input = [];
  const end = Date.now() + ms;
  let i = 0;
  while (Date.now() < end) {
    const t0 = Date.now();
    if (i % 2 === 0) {
      await page.press('#live-list', i % 4 === 0 ? 'PageDown' : 'PageUp');
      await page.evaluate(() => new Promise(r => requestAnimationFrame(() => r())));
      input.push(Date.now() - t0);
    } else {
      // pause, measured, then resume at once: the list keeps rendering the stream
      await page.click('#pause');
      await page.waitForFunction(() => document.querySelector('#pause').getAttribute('aria-pressed') === 'true');
      input.push(Date.now() - t0);
      await page.click('#pause');
      await page.waitForFunction(() => document.querySelector('#pause').getAttribute('aria-pressed') === 'false');
    }
    i++;
    await new Promise(r => setTimeout(r, 200));
  }
  const lag = await page.evaluate(() => { clearInterval(window.__lagTimer); return window.__lag; });
  return { lag_p50_ms: pct(lag, 0.5), lag_p99_ms: pct(lag, 0.99), lag_max_ms: Math.max(0, ...lag),
    input_p50_ms: pct(input, 0.5), input_p99_ms: pct(input, 0.99), input_max_ms: Math.max(0, ...input), inputs: input.length };
}

// the pusher: a process of its own (bench/console_push.mjs)
function push() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [new URL('./console_push.mjs', import.meta.url).pathname],
      { env: { ...process.env, RATE: String(RATE), SECS: String(SECS) }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('exit', (code) => code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`pusher exited ${code}`)));
  });
}

const idle = await probe(3000);
const [load, pushed] = await Promise.all([probe(SECS * 1000 - 500), push()]);
await page.waitForTimeout(500);
const shown = await page.evaluate(() => ({ rows: document.querySelectorAll('#live-list .vrow').length, status: document.querySelector('.stats').textContent }));
console.log(JSON.stringify({ rate: RATE, secs: SECS, pushed, idle, load, shown }));
await browser.close();
