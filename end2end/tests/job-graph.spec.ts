import { test, expect, hydrated, runTilesJob } from './fixtures';
import { JobPage } from './pages';

test('the graph draws the tasks and shares the selection with the waterfall', async ({ page, baseURL }) => {
  const jobId = runTilesJob(baseURL!, `graph-${Date.now()}`);
  const job = new JobPage(page);
  await job.open(jobId);
  await page.getByRole('button', { name: 'Graph' }).click();
  await expect(page).toHaveURL(/view=graph/);
  const graph = page.locator('.graph__canvas');
  const boxes = graph.locator('[data-node]');
  // Survey holds its four tiles and Mosaic; Mosaic waits for each tile: four arrows.
  await expect(boxes).toHaveCount(6);
  await expect(graph.locator('.graph__edge')).toHaveCount(4);
  const box = (text: string) => boxes.filter({ hasText: text });
  const survey = (await box('Survey').boundingBox())!;
  for (const tile of ['T33U06', 'T33U08', 'T33U09']) {
    const tileBox = (await box(tile).boundingBox())!;
    expect(tileBox.x).toBeGreaterThanOrEqual(survey.x);
    expect(tileBox.y + tileBox.height).toBeLessThanOrEqual(survey.y + survey.height);
  }
  await expect(box('T33U09')).toHaveClass(/graph__node--failed/);
  await expect(box('Mosaic')).toHaveClass(/graph__node--queued/);
  const mosaic = (await box('Mosaic').boundingBox())!;
  const failedTile = (await box('T33U09').boundingBox())!;
  expect(mosaic.y).toBeGreaterThan(failedTile.y + failedTile.height); // top to bottom

  // A click on a task selects its attempt's span: the panel shows it, the box is outlined.
  await box('T33U09').click();
  await expect(page).toHaveURL(/span=[0-9a-f]{16}/);
  const spanId = new URL(page.url()).searchParams.get('span')!;
  await expect(job.panel).toContainText('task/DownloadTile');
  await expect(job.panel).toContainText('T33U09');
  await expect(box('T33U09')).toHaveClass(/graph__node--selected/);

  // The link restores the graph with its selection; the waterfall shows the same span selected.
  await page.reload();
  await hydrated(page);
  await expect(box('T33U09')).toHaveClass(/graph__node--selected/);
  await page.getByRole('button', { name: 'Waterfall' }).click();
  await expect(job.row(spanId)).toHaveAttribute('aria-selected', 'true');

  // A span selected in the waterfall outlines its task in the graph.
  await job.rowByName('task/Survey').click();
  await page.getByRole('button', { name: 'Graph' }).click();
  await expect(box('Survey')).toHaveClass(/graph__node--selected/);
  await expect(box('T33U09')).not.toHaveClass(/graph__node--selected/);

  // Left to right: the dependent is right of its dependencies, and the URL says so.
  await page.getByRole('button', { name: 'Left to right' }).click();
  await expect(page).toHaveURL(/dir=right/);
  const tileRight = (await box('T33U06').boundingBox())!;
  const mosaicRight = (await box('Mosaic').boundingBox())!;
  expect(mosaicRight.x).toBeGreaterThan(tileRight.x + tileRight.width);

  // A task that never ran has no span: it is outlined and nothing is selected.
  await box('Mosaic').click();
  await expect(box('Mosaic')).toHaveClass(/graph__node--selected/);
  await expect(page).not.toHaveURL(/span=/);
});
