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
// Then the runner lanes of 100,000 task spans on 8 and on 1,000 runners (`BENCH_LANES`, 0 to skip;
// `BENCH_LANE_RUNNERS`): the time from the click on "Runner lanes" to the lanes painted, the lanes
// and bars in the DOM, and frame times scrolling the lanes.
// Then a running job under live load (`BENCH_LIVE`, spans already in the job, default 10,000; 0 to
// skip): 50 new spans a second arrive over OTLP/HTTP (5 every 100 ms) for 10 s while the page
// shows the job, first resting, then scrolling 240 px a frame; every animation frame's interval is
// recorded: frames per second, p50 / p95 / max, and frames later than 25 ms (a vsync missed).
import { chromium } from 'playwright';
import { printProfile } from './cpu-profile.mjs';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const bin = process.env.JOBTRACE_BIN ?? path.join(root, 'target/release/jobtrace');
// `0` alone: no job-page sizes (the lanes and live runs only).
const sizes = process.argv.length > 2 ? process.argv.slice(2).map(Number).filter(Boolean) : [10_000, 100_000];
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

// A job of `tasks` task spans, 10 ms each, back to back on each of `runners` runners.
async function seedLanes(tasks, runnerCount = 8) {
  const traceId = hex(16);
  const rootId = hex(8);
  const t0 = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  const ns = (ms) => (t0 + BigInt(Math.round(ms * 1000)) * 1000n).toString();
  const perRunner = Math.ceil(tasks / runnerCount);
  const runners = Array.from({ length: runnerCount }, (_, r) => ({
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
    const start = Math.floor(t / runnerCount) * 10;
    runners[t % runnerCount].spans.push(span(hex(8), rootId, 'task/ProcessTile', start, start + 9, t % 997 === 0 ? 2 : 0));
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
  const lanesInDom = await page.locator('.lanes__lane[data-runner]').count();
  // Scrolling the lanes box 120 frames, 240 px each (down, then back up at the end).
  const frames = await page.evaluate(async () => {
    // (Before lanes scrolled in their own box, the page scrolled.)
    const box = document.querySelector('.lanes__scroll') ?? document.scrollingElement;
    const times = [];
    let last = performance.now();
    let down = true;
    for (let i = 0; i < 120; i++) {
      if (box.scrollTop + box.clientHeight >= box.scrollHeight - 1) down = false;
      box.scrollTop += down ? 240 : -240;
      await new Promise((r) => requestAnimationFrame(r));
      const now = performance.now();
      times.push(now - last);
      last = now;
    }
    return times.sort((a, b) => a - b);
  });
  await page.close();
  const p95 = frames[Math.floor(0.95 * frames.length)];
  return { took, bars, tasks, lanesInDom, p95, max: frames.at(-1) };
}

// A running job (no root span yet, no failure) of `total` spans under tasks of 99 children; a
// feeder that adds 5 spans to it every 100 ms.
async function seedLive(total) {
  const traceId = hex(16);
  const rootId = hex(8);
  const t0 = BigInt(Date.now() - 600_000) * 1_000_000n;
  const ns = (ms) => (t0 + BigInt(Math.round(ms * 1000)) * 1000n).toString();
  const span = (id, parent, name, startMs, endMs) => ({
    traceId, spanId: id, parentSpanId: parent, name, kind: 1,
    startTimeUnixNano: ns(startMs), endTimeUnixNano: ns(endMs),
    attributes: [{ key: 'tile', value: { intValue: String(startMs | 0) } }],
    status: { code: 0 },
  });
  const post = async (spans) => {
    const body = {
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] },
        scopeSpans: [{ scope: { name: 'bench' }, spans }],
      }],
    };
    const response = await fetch(`${base}/v1/traces`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`live spans: ${response.status} ${await response.text()}`);
  };
  const spans = [];
  let task = null;
  let at = 0;
  const next = () => {
    if (spans.length % 100 === 0 || !task) {
      task = hex(8);
      at = spans.length * 0.1;
      return span(task, rootId, 'task/ProcessTile', at, at + 150);
    }
    const c = spans.length % 100;
    return span(hex(8), task, `step-${c % 7}`, at + c, at + c + 1.5);
  };
  while (spans.length < total) spans.push(next());
  for (let i = 0; i < spans.length; i += 10_000) await post(spans.slice(i, i + 10_000));
  let timer = null;
  let sent = 0;
  return {
    traceId,
    start() {
      timer = setInterval(() => {
        const batch = Array.from({ length: 5 }, () => { const s = next(); spans.push(s); return s; });
        sent += batch.length;
        post(batch).catch((e) => console.error(e.message));
      }, 100);
    },
    stop() { clearInterval(timer); return sent; },
  };
}

async function measureLive(browser, total) {
  const feed = await seedLive(total);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${base}/jobs/${feed.traceId}`, { waitUntil: 'commit', timeout: 300_000 });
  await page.waitForSelector('body[data-hydrated]', { timeout: 300_000 });
  await page.waitForSelector('.waterfall__row', { timeout: 300_000 });
  const rowsBefore = await page.evaluate(() => document.querySelector('.waterfall__scroll')?.scrollHeight ?? 0);
  // BENCH_PROFILE=1: a CPU profile of the run (Chromium's sampling profiler), self time by
  // function; wasm names need a bundle built without wasm-opt (JOBTRACE_SITE_ROOT).
  const cdp = process.env.BENCH_PROFILE ? await page.context().newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  feed.start();
  const phases = await page.evaluate(async () => {
    const record = async (ms, step) => {
      const times = [];
      const started = performance.now();
      let last = started;
      while (performance.now() - started < ms) {
        step();
        await new Promise((r) => requestAnimationFrame(r));
        const now = performance.now();
        times.push(now - last);
        last = now;
      }
      return { seconds: (performance.now() - started) / 1000, times: times.sort((a, b) => a - b) };
    };
    const resting = await record(5000, () => {});
    let down = true;
    const scrolling = await record(5000, () => {
      // Looked up each frame: a reload rebuilds the box (it keeps its scroll position).
      const scroller = document.querySelector('.waterfall__scroll') ?? document.scrollingElement;
      if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 240) down = false;
      if (scroller.scrollTop <= 0) down = true;
      scroller.scrollTop += down ? 240 : -240;
    });
    return { resting, scrolling };
  });
  const sent = feed.stop();
  if (cdp) printProfile((await cdp.send('Profiler.stop')).profile, { label: 'profile: ', top: 30 });
  // The page followed: the tree grows by the spans sent (28 px a row), within how long of the
  // last one sent (live updates are paced; 20 s at most).
  const stopped = Date.now();
  let rowsAfter = rowsBefore;
  while (Date.now() - stopped < 20_000) {
    rowsAfter = await page.evaluate(() => document.querySelector('.waterfall__scroll')?.scrollHeight ?? 0);
    if (rowsAfter - rowsBefore >= sent * 28) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const caughtUp = Date.now() - stopped;
  await page.close();
  const stats = ({ seconds, times }) => {
    const pick = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
    return { fps: times.length / seconds, p50: pick(0.5), p95: pick(0.95), max: times.at(-1), late: times.filter((t) => t > 25).length, frames: times.length };
  };
  return { sent, caughtUp, grew: Math.round((rowsAfter - rowsBefore) / 28), resting: stats(phases.resting), scrolling: stats(phases.scrolling) };
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
  for (const size of sizes) {
    const { traceId, count } = await seed(size);
    const m = await measure(browser, traceId);
    const f = (x) => x.toFixed(0);
    console.log(`| ${count} | ${f(m.firstRows)} | ${f(m.hydrated)} | ${m.p50.toFixed(1)} / ${m.p95.toFixed(1)} / ${m.max.toFixed(1)} | ${m.rowsInDom} | ${(m.pageBytes / 1e6).toFixed(1)} |`);
  }
  const lanes = Number(process.env.BENCH_LANES ?? 100_000);
  // `BENCH_LANE_RUNNERS`: the runner counts, default 8 and 1,000.
  const laneRunners = (process.env.BENCH_LANE_RUNNERS ?? '8,1000').split(',').map(Number).filter(Boolean);
  for (const runnerCount of lanes > 0 ? laneRunners : []) {
    const traceId = await seedLanes(lanes, runnerCount);
    const m = await measureLanes(browser, traceId);
    console.log(`\nrunner lanes, ${lanes} tasks on ${runnerCount} runners: shown ${m.took.toFixed(0)} ms after the click; ${m.lanesInDom} lanes and ${m.bars} bars in the DOM standing for ${m.tasks} tasks; scrolling the lanes: frame p95 ${m.p95.toFixed(1)} ms, max ${m.max.toFixed(1)} ms`);
  }
  const live = Number(process.env.BENCH_LIVE ?? 10_000);
  if (live > 0) {
    const m = await measureLive(browser, live);
    console.log(`\na running job of ${live} spans, 50 spans/s arriving (${m.sent} sent; the tree grew by ${m.grew} rows, the last ${m.caughtUp} ms after the last was sent):`);
    console.log('| | frames/s | frame p50 / p95 / max (ms) | frames over 25 ms |');
    console.log('|---|---:|---|---:|');
    for (const [label, f] of [['resting', m.resting], ['scrolling 240 px a frame', m.scrolling]]) {
      console.log(`| ${label} | ${f.fps.toFixed(1)} | ${f.p50.toFixed(1)} / ${f.p95.toFixed(1)} / ${f.max.toFixed(1)} | ${f.late} of ${f.frames} |`);
    }
  }
  await browser.close();
} finally {
  server.kill();
}
