import { execFileSync } from 'node:child_process';
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

  // The workflow task with its attempt, known to the server before any span.
  const task = page.locator('.task-table__row');
  await expect(task).toHaveCount(1);
  await expect(task).toContainText('ProcessScene');
  await expect(task).toContainText('COMPUTED');
  await expect(task.locator('.task-table__attempt')).toContainText('computed');

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
  await expect(page.locator('.waterfall__logs').getByText('downloading scene S2A_001')).toBeVisible();
  await job.rowByName('download-scene').click();
  await expect(job.panel.getByText('downloading scene S2A_001')).toBeVisible();
});
