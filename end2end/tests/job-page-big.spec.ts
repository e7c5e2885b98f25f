import { test, expect, hex, seedTrace } from './fixtures';
import { JobPage } from './pages';

test('a big trace renders only the rows near the view and scrolls to its last span', async ({ page, request }) => {
  const root = hex(8);
  const spans = [{ id: root, name: `job/big-${Date.now()}`, startMs: 0, endMs: 5000 }];
  for (let i = 0; i < 3000; i++) {
    spans.push({ id: hex(8), parent: root, name: `step-${i}`, startMs: i, endMs: i + 2 } as never);
  }
  const last = spans.at(-1)!.id;
  const traceId = await seedTrace(request, spans);
  const job = new JobPage(page);
  await job.open(traceId);
  await expect(page.locator('.trace-view__count')).toHaveText('3001 of 3001 spans shown');
  const rendered = await page.locator('.waterfall__row').count();
  expect(rendered).toBeLessThan(200);
  await expect(job.row(last)).toHaveCount(0);
  await page.locator('#waterfall-scroll').evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(job.row(last)).toBeVisible();
  expect(await page.locator('.waterfall__row').count()).toBeLessThan(200);
  // The keyboard follows the selection through the window: ↑ from the last row stays in view.
  await job.row(last).click();
  await page.getByRole('tree').focus();
  await page.keyboard.press('ArrowUp');
  await expect(job.rowByName('step-2998')).toHaveAttribute('aria-selected', 'true');
});
