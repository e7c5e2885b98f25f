import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, expect } from './fixtures';
import { JobPage } from './pages';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('the Tracing page example, run by the real Tilebox client, shows its task, spans and logs', async ({ page, baseURL }) => {
  // Submit and run the example with the unmodified tilebox-workflows client.
  const output = execFileSync(
    path.join(root, '.venv/bin/python'),
    [path.join(root, 'examples/python/process_scene.py'), '--url', baseURL!],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const jobId = output.match(/job id: ([0-9a-f-]{36})/)?.[1];
  expect(jobId, output).toBeTruthy();

  const job = new JobPage(page);
  await job.open(jobId!);
  await expect(page.getByRole('heading', { level: 1, name: 'process-scene' })).toBeVisible();
  await expect(page.locator('.status-badge').first()).toHaveText('COMPLETED');

  // The workflow task with its attempt, known to the server before any span (the Tasks tab).
  await page.getByRole('tab', { name: 'Tasks (1)' }).click();
  const task = page.locator('.task-table__row');
  await expect(task).toHaveCount(1);
  await expect(task).toContainText('ProcessScene');
  await expect(task).toContainText('COMPUTED');
  await expect(task.locator('.task-table__attempt')).toContainText('computed');
  await page.getByRole('tab', { name: 'Trace' }).click();

  // The trace: job span, task span, and the two custom spans nested under the task span.
  for (const name of ['job/process-scene', 'task/ProcessScene', 'download-scene', 'compute-index']) {
    await expect(job.rowByName(name)).toBeVisible();
  }
  const taskBox = await job.rowByName('task/ProcessScene').locator('.waterfall__name').boundingBox();
  const downloadBox = await job.rowByName('download-scene').locator('.waterfall__name').boundingBox();
  expect(downloadBox!.x).toBeGreaterThan(taskBox!.x);
  await job.rowByName('download-scene').click();
  await expect(job.panel.getByRole('row', { name: /scene_id/ })).toContainText('S2A_001');
});

test('logs from context.logger appear under their span', async ({ page, baseURL }) => {
  const output = execFileSync(
    path.join(root, '.venv/bin/python'),
    [path.join(root, 'end2end/fixtures/logging_job.py'), '--url', baseURL!],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const jobId = output.match(/job id: ([0-9a-f-]{36})/)?.[1];
  expect(jobId, output).toBeTruthy();
  const job = new JobPage(page);
  await job.open(jobId!);
  await expect(job.rowByName('download-scene')).toBeVisible();
  // The log line is a tick on its span's bar; its text loads into the panel with the span.
  await expect(job.rowByName('download-scene').locator('.waterfall__tick--info')).toHaveCount(1);
  await job.rowByName('download-scene').click();
  await expect(job.panel.locator('.log-list__body', { hasText: 'downloading scene S2A_001' })).toBeVisible();
});

test('a workflow job shows dependencies, queue waits, retries and its critical path', async ({ page, baseURL }) => {
  const output = execFileSync(
    path.join(root, '.venv/bin/python'),
    [path.join(root, 'end2end/fixtures/dependency_job.py'), '--url', baseURL!],
    { encoding: 'utf8', timeout: 90_000 },
  );
  const jobId = output.match(/job id: ([0-9a-f-]{36})/)?.[1];
  expect(jobId, output).toBeTruthy();
  const job = new JobPage(page);
  await job.open(jobId!);
  // Two dependency edges: each tile's last attempt → Mosaic.
  await expect(page.locator('.waterfall__edge')).toHaveCount(2);
  // The flaky tile's two attempts are numbered; the failed one is red.
  await expect(page.getByText('attempt 1/2')).toBeVisible();
  await expect(page.getByText('attempt 2/2')).toBeVisible();
  const mosaic = job.rowByName('task/Mosaic');
  // Mosaic queued while the tiles ran: a queue segment before its bar.
  await expect(mosaic.locator('.waterfall__queue')).toHaveCount(1);
  // Most of that wait was for its dependencies (drawn apart), the rest for a runner.
  await expect(mosaic.locator('.waterfall__wait')).toHaveAttribute('title', /^waited .+ for its dependencies$/);
  await expect(mosaic.locator('.waterfall__queue')).toHaveAttribute('title', /^queued .+ for a runner$/);
  await mosaic.click();
  // Every attempt of both tiles (the flaky one ran twice).
  await expect(page.locator('.waterfall__row--waited-for')).toHaveCount(3);
  await expect(page.locator('.waterfall__edge--selected')).toHaveCount(2);
  const tile = job.rowByName('task/Tile').first();
  await tile.click();
  await expect(page.locator('.waterfall__row--waiting')).toHaveCount(1);
  await expect(page.locator('.waterfall__row--waiting')).toContainText('task/Mosaic');

  // The critical path: the job span, Mosaic, and (one runner ran everything in turn) the tiles
  // before it.
  await page.getByRole('button', { name: 'Critical path' }).click();
  await expect(page).toHaveURL(/critical=1/);
  await expect(mosaic).toHaveClass(/waterfall__row--critical/);
  await expect(job.rowByName('job/survey-dependencies')).toHaveClass(/waterfall__row--critical/);
  expect(await page.locator('.waterfall__row--critical', { hasText: 'task/Tile' }).count()).toBeGreaterThan(0);

  // The log panel of a tile: a severity floor and a search.
  await job.rowByName('task/Tile').last().click();
  await expect(job.panel.locator('.log-list__body', { hasText: /tile \d cloudy/ })).toBeVisible();
  await job.panel.getByRole('combobox', { name: 'Minimum severity' }).selectOption('error+');
  await expect(job.panel.locator('.log-list__body', { hasText: /tile \d cloudy/ })).toHaveCount(0);
  await job.panel.getByRole('combobox', { name: 'Minimum severity' }).selectOption('all');
  await job.panel.getByRole('searchbox', { name: 'Search logs' }).fill('no such line');
  await expect(job.panel.locator('.log-list__body', { hasText: /tile \d cloudy/ })).toHaveCount(0);
});

test('a running task grows with the clock until its span arrives', async ({ page, baseURL }) => {
  const child = spawn(path.join(root, '.venv/bin/python'), [path.join(root, 'end2end/fixtures/running_job.py'), '--url', baseURL!, '--seconds', '5']);
  try {
    const jobId = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (chunk) => {
        text += chunk;
        const id = text.match(/job id: ([0-9a-f-]{36})/)?.[1];
        if (id) resolve(id);
      });
      child.on('exit', () => reject(new Error(`runner exited: ${text}`)));
    });
    const job = new JobPage(page);
    // Wait until the runner has claimed the task (the page shows what the server knows).
    await expect.poll(async () => {
      await job.open(jobId);
      return page.locator('.waterfall__row--running').count();
    }, { timeout: 15_000 }).toBe(1);
    const running = page.locator('.waterfall__row--running');
    await expect(running).toContainText('task/Nap');
    // Its duration counts up with the clock; its bar reaches to now (the axis end, less 10 %).
    const duration = running.locator('.waterfall__duration');
    const first = await duration.textContent();
    await expect(duration).not.toHaveText(first!, { timeout: 3000 });
    // Both boxes read at once, until the row is laid out: while a live update rebuilds the
    // page a row can be there with no layout for an instant (seen with this test's bundle
    // before 2026-12-07 too, about one run in six).
    const reach = () => running.evaluate((row) => {
      const track = row.querySelector('.waterfall__track')!.getBoundingClientRect();
      const bar = row.querySelector('.waterfall__bar')!.getBoundingClientRect();
      if (track.width === 0) return null;
      return { end: (bar.right - track.left) / track.width, past: bar.right - track.right };
    });
    await expect.poll(async () => (await reach())?.end ?? 0, { timeout: 3000 }).toBeGreaterThan(0.8);
    const { past } = (await reach()) ?? { past: 0 };
    expect(past).toBeLessThanOrEqual(1);
    // When the attempt ends its real span arrives (pushed, no reload) and replaces the stand-in.
    await expect(page.locator('.job-header')).toContainText('COMPLETED', { timeout: 20_000 });
    await expect(page.locator('.waterfall__row--running')).toHaveCount(0);
    await expect(job.rowByName('task/Nap')).toHaveCount(1);
  } finally {
    child.kill();
  }
});
