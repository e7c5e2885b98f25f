// Benchmark: a job of N spans on the job page in Chromium — time until the first rows are
// painted and frame times while scrolling the span tree.
//
//   node bench/waterfall.mjs [10000 100000]      (make bench-ui)
//
// Starts the built binary on a fresh SQLite file, seeds one trace per size through OTLP/HTTP
// (a job span, tasks of 99 children each), opens /jobs/<trace id> and measures:
// - first rows: navigation start → the first `.waterfall__row` in the DOM (performance.now()),
// - hydrated: → `body[data-hydrated]` (the page answers clicks),
// - scroll: 120 animation frames scrolling 240 px each; frame time p50 / p95 / max,
// - page: the HTML document's size (rows and hydration data), fetched once more outside the browser.
// Then the runner lanes of 100,000 task spans on 8 runners (`BENCH_LANES`, 0 to skip): the time
// from the click on "Runner lanes" to the lanes painted, and the bars in the DOM.
import { chromium } from 'playwright';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const bin = process.env.JOBTRACE_BIN ?? path.join(root, 'target/release/jobtrace');
const sizes = process.argv.slice(2).map(Number).filter(Boolean);
const port = 3299;
const base = `http://127.0.0.1:${port}`;
const hex = (n) => crypto.randomBytes(n).toString('hex');

async function waitUp() {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('jobtrace did not start');
}

async function seed(total) {
  const traceId = hex(16);
  const rootId = hex(8);
  const t0 = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  const ns = (ms) => (t0 + BigInt(Math.round(ms * 1000)) * 1000n).toString();
  const span = (id, parent, name, startMs, endMs, status = 0) => ({
    traceId, spanId: id, parentSpanId: parent, name, kind: 1,
    startTimeUnixNano: ns(startMs), endTimeUnixNano: ns(endMs),
    attributes: [{ key: 'tile', value: { intValue: String(startMs | 0) } }],
    status: { code: status },
  });
  const tasks = Math.max(1, Math.round((total - 1) / 100));
  const spans = [span(rootId, '', `job/bench-${total}`, 0, tasks * 10 + 200)];
  for (let t = 0; t < tasks; t++) {
    const taskId = hex(8);
    const start = t * 10;
    spans.push(span(taskId, rootId, 'task/ProcessTile', start, start + 150, t % 97 === 0 ? 2 : 0));
    for (let c = 0; c < 99 && spans.length < total; c++) {
      spans.push(span(hex(8), taskId, `step-${c % 7}`, start + c, start + c + 1.5));
    }
  }
  for (let i = 0; i < spans.length; i += 10_000) {
    const body = {
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] },
        scopeSpans: [{ scope: { name: 'bench' }, spans: spans.slice(i, i + 10_000) }],
      }],
    };
    const response = await fetch(`${base}/v1/traces`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`seeding: ${response.status} ${await response.text()}`);
  }
  return { traceId, count: spans.length };
}

async function measure(browser, traceId) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${base}/jobs/${traceId}`, { waitUntil: 'commit', timeout: 300_000 });
  await page.waitForSelector('.waterfall__row', { timeout: 300_000 });
  const firstRows = await page.evaluate(() => performance.now());
  await page.waitForSelector('body[data-hydrated]', { timeout: 300_000 });
  const hydrated = await page.evaluate(() => performance.now());
  const frames = await page.evaluate(async () => {
    const scroller = document.querySelector('.waterfall__scroll') ?? document.scrollingElement;
    const times = [];
    let last = performance.now();
    for (let i = 0; i < 120; i++) {
      scroller.scrollTop += 240;
      await new Promise((r) => requestAnimationFrame(r));
      const now = performance.now();
      times.push(now - last);
      last = now;
    }
    return times.sort((a, b) => a - b);
  });
  const rowsInDom = await page.locator('.waterfall__row').count();
  await page.close();
  const pageBytes = (await (await fetch(`${base}/jobs/${traceId}`)).arrayBuffer()).byteLength;
  const pick = (q) => frames[Math.min(frames.length - 1, Math.floor(q * frames.length))];
  return { firstRows, hydrated, p50: pick(0.5), p95: pick(0.95), max: frames.at(-1), rowsInDom, pageBytes };
}

// A job of `tasks` task spans, 10 ms each, back to back on each of 8 runners.
async function seedLanes(tasks) {
  const traceId = hex(16);
  const rootId = hex(8);
  const t0 = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  const ns = (ms) => (t0 + BigInt(Math.round(ms * 1000)) * 1000n).toString();
  const perRunner = Math.ceil(tasks / 8);
  const runners = Array.from({ length: 8 }, (_, r) => ({
    resource: { attributes: [
      { key: 'service.name', value: { stringValue: 'bench' } },
      { key: 'service.instance.id', value: { stringValue: `runner-${r}` } },
    ] },
    spans: [],
  }));
  const span = (id, parent, name, startMs, endMs, status = 0) => ({
    traceId, spanId: id, parentSpanId: parent, name, kind: 1,
    startTimeUnixNano: ns(startMs), endTimeUnixNano: ns(endMs), status: { code: status },
  });
  runners[0].spans.push(span(rootId, '', `job/lanes-${tasks}`, 0, perRunner * 10 + 10));
  for (let t = 0; t < tasks; t++) {
    const start = Math.floor(t / 8) * 10;
    runners[t % 8].spans.push(span(hex(8), rootId, 'task/ProcessTile', start, start + 9, t % 997 === 0 ? 2 : 0));
  }
  for (const { resource, spans } of runners) {
    for (let i = 0; i < spans.length; i += 10_000) {
      const body = { resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'bench' }, spans: spans.slice(i, i + 10_000) }] }] };
      const response = await fetch(`${base}/v1/traces`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`seeding: ${response.status} ${await response.text()}`);
    }
  }
  return traceId;
}

async function measureLanes(browser, traceId) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${base}/jobs/${traceId}`, { waitUntil: 'commit', timeout: 300_000 });
  await page.waitForSelector('body[data-hydrated]', { timeout: 300_000 });
  const took = await page.evaluate(async () => {
    const started = performance.now();
    [...document.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Runner lanes').click();
    while (!document.querySelector('.lanes__bar')) await new Promise((r) => setTimeout(r, 1));
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now() - started;
  });
  const bars = await page.locator('.lanes__bar').count();
  const tasks = await page.locator('.lanes__bar').evaluateAll((all) => all.reduce((n, b) => n + Number(b.dataset.tasks ?? 1), 0));
  await page.close();
  return { took, bars, tasks };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobtrace-bench-'));
const server = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--database-url', `sqlite:${dir}/bench.db`, '--max-body-bytes', String(64 << 20)], {
  cwd: root, stdio: ['ignore', 'ignore', 'inherit'],
});
try {
  await waitUp();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  console.log('| spans | first rows (ms) | hydrated (ms) | scroll frame p50 / p95 / max (ms) | rows in DOM | page (MB) |');
  console.log('|---:|---:|---:|---|---:|---:|');
  for (const size of sizes.length ? sizes : [10_000, 100_000]) {
    const { traceId, count } = await seed(size);
    const m = await measure(browser, traceId);
    const f = (x) => x.toFixed(0);
    console.log(`| ${count} | ${f(m.firstRows)} | ${f(m.hydrated)} | ${m.p50.toFixed(1)} / ${m.p95.toFixed(1)} / ${m.max.toFixed(1)} | ${m.rowsInDom} | ${(m.pageBytes / 1e6).toFixed(1)} |`);
  }
  const lanes = Number(process.env.BENCH_LANES ?? 100_000);
  if (lanes > 0) {
    const traceId = await seedLanes(lanes);
    const m = await measureLanes(browser, traceId);
    console.log(`\nrunner lanes, ${lanes} tasks on 8 runners: shown ${m.took.toFixed(0)} ms after the click; ${m.bars} bars in the DOM standing for ${m.tasks} tasks`);
  }
  await browser.close();
} finally {
  server.kill();
}
