// Screenshots for the README (docs/screenshots/): the built binary with --demo jobs plus one
// workflow job run by the real Tilebox client (end2end/fixtures/dependency_job.py) and a failed
// fan-out (end2end/fixtures/tiles_job.py).
//
//   node bench/screenshots.mjs
import { chromium } from 'playwright';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const bin = process.env.JOBTRACE_BIN ?? path.join(root, 'target/release/jobtrace');
const out = path.join(root, 'docs/screenshots');
const port = 3298;
const base = `http://127.0.0.1:${port}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobtrace-shots-'));
const server = spawn(bin, ['serve', '--demo', '--addr', `127.0.0.1:${port}`, '--database-url', `sqlite:${dir}/shots.db`], {
  cwd: root, stdio: 'ignore',
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch {}
    await sleep(100);
  }
  const output = execFileSync(path.join(root, '.venv/bin/python'), [path.join(root, 'end2end/fixtures/dependency_job.py'), '--url', base], { encoding: 'utf8' });
  const workflowJob = output.match(/job id: ([0-9a-f-]{36})/)[1];
  const tiles = execFileSync(path.join(root, '.venv/bin/python'), [path.join(root, 'end2end/fixtures/tiles_job.py'), '--url', base], { encoding: 'utf8' });
  const tilesJob = tiles.match(/job id: ([0-9a-f-]{36})/)[1];
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  const shot = async (name) => {
    await page.locator('body[data-hydrated]').waitFor();
    await sleep(300);
    await page.screenshot({ path: path.join(out, `${name}.png`) });
  };
  await page.goto(`${base}/`);
  await shot('job-list');
  const jobs = await (await fetch(`${base}/api/v1/jobs?name=ingest-tiles`)).json();
  const fanOut = jobs.jobs[0].id;
  const spans = await (await fetch(`${base}/api/v1/jobs/${fanOut}/spans?status=error`)).json();
  await page.goto(`${base}/jobs/${fanOut}?span=${spans.spans[0].span_id}`);
  await shot('job-page');
  await page.goto(`${base}/jobs/${fanOut}?fold=1`);
  await shot('job-page-folded');
  await page.goto(`${base}/jobs/${fanOut}?view=lanes`);
  await shot('runner-lanes');
  const mosaic = await (await fetch(`${base}/api/v1/jobs/${workflowJob}/spans?name=Mosaic`)).json();
  await page.goto(`${base}/jobs/${workflowJob}?critical=1&span=${mosaic.spans[0].span_id}`);
  await shot('workflow-job');
  await page.goto(`${base}/jobs/${tilesJob}?view=graph`);
  await shot('job-graph');
  await page.goto(`${base}/jobs/${tilesJob}`);
  await shot('failed-fan-out');
  await page.goto(`${base}/jobs/${tilesJob}?tab=logs`);
  await shot('job-logs');
  // Task analytics count ended attempts about a second after they end.
  await sleep(2000);
  await page.goto(`${base}/tasks?days=7`);
  await shot('tasks');
  await page.goto(`${base}/tasks/DownloadTile?days=7`);
  await shot('task-detail');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${base}/jobs/${fanOut}?q=status:error`);
  await shot('job-page-dark');
  await browser.close();
} finally {
  server.kill();
}
