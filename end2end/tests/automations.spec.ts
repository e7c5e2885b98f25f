import { test, expect, hydrated, runFixture } from './fixtures';

/** Runs end2end/fixtures/automation.py with the real Tilebox client. */
function automation(baseURL: string, ...args: string[]): string {
  return runFixture('automation.py', '--url', baseURL, ...args).trim();
}

test('the automations page lists each automation, its next run and the jobs it submitted', async ({ page, baseURL }) => {
  const stamp = Date.now();
  const nightly = automation(baseURL!, 'create', `nightly-${stamp}`, '0 3 * * *');
  // Once a day at the second six seconds from now: one job during the test (an every-second
  // schedule would add jobs under the other journeys' feet).
  const soon = new Date(Date.now() + 6000);
  const daily = `${soon.getUTCSeconds()} ${soon.getUTCMinutes()} ${soon.getUTCHours()} * * *`;
  const often = automation(baseURL!, 'create', `soon-${stamp}`, daily);
  try {
    await page.goto('/');
    await hydrated(page);
    await page.getByRole('link', { name: 'Automations' }).click();
    await expect(page).toHaveURL(/\/automations$/);
    const nightlyRow = page.locator(`.automations__row[data-automation-id="${nightly}"]`);
    await expect(nightlyRow).toContainText(`nightly-${stamp}`);
    await expect(nightlyRow).toContainText('NightlyMosaic@v0.0');
    await expect(nightlyRow.locator('.automations__schedule')).toHaveText('0 3 * * *');
    await expect(nightlyRow.locator('.automations__next')).toContainText('03:00:00');
    await expect(nightlyRow.locator('.automations__job')).toHaveCount(0);

    // The other one's tick comes: it lists the job it submitted, a link to it.
    await expect
      .poll(async () => {
        await page.reload();
        return page.locator(`.automations__row[data-automation-id="${often}"] .automations__job`).count();
      }, { timeout: 20_000 })
      .toBe(1);
    const oftenRow = page.locator(`.automations__row[data-automation-id="${often}"]`);
    await expect(oftenRow.locator('.automations__job').first()).toContainText('SUBMITTED');
    await oftenRow.locator('.automations__job').first().click();
    await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}/);
    await expect(page.locator('h1')).toContainText(`soon-${stamp}`);
  } finally {
    automation(baseURL!, 'delete', often);
    automation(baseURL!, 'delete', nightly);
  }
  await page.goto('/automations');
  await expect(page.locator(`.automations__row[data-automation-id="${often}"]`)).toHaveCount(0);
});

test('a storage-event automation shows what it watches and the job a new object submitted', async ({ page, baseURL }) => {
  const stamp = Date.now();
  const [id, subscription] = automation(baseURL!, 'on-bucket', `scenes-${stamp}`, `bucket-${stamp}`, 'raw/**/*.json').split(' ');
  try {
    await page.goto('/automations');
    await hydrated(page);
    const row = page.locator(`.automations__row[data-automation-id="${id}"]`);
    await expect(row.locator('.automations__storage')).toHaveText(`new raw/**/*.json in s3://bucket-${stamp}`);
    await expect(row.locator('.automations__next')).toHaveText('on a new object');
    await expect(row.locator('.automations__job')).toHaveCount(0);

    automation(baseURL!, 'notify', subscription, 'cooked/skip.json');
    automation(baseURL!, 'notify', subscription, 'raw/2026/scene.json');
    await page.reload();
    await expect(row.locator('.automations__job')).toHaveCount(1);
    await row.locator('.automations__job').first().click();
    await expect(page.locator('h1')).toContainText(`scenes-${stamp}`);
  } finally {
    automation(baseURL!, 'delete', id);
  }
});
