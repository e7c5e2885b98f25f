import { test, expect, hex } from './fixtures';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// A second server of the built binary that requires an API token: the dashboard asks to sign in,
// a shared link survives the sign-in, signing out closes it again.
const here = path.dirname(fileURLToPath(import.meta.url));
const bin = process.env.JOBTRACE_BIN ?? path.resolve(here, '../../target/release/jobtrace');
const port = Number(process.env.JOBTRACE_E2E_AUTH_PORT ?? 3198);
const base = `http://127.0.0.1:${port}`;
const token = `e2e-token-${hex(12)}`;
let server: ChildProcess;

test.beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobtrace-e2e-auth-'));
  server = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--database-url', `sqlite:${dir}/auth.db`, '--api-token', token], {
    cwd: path.resolve(here, '../..'),
    stdio: 'ignore',
  });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the token server did not start');
});

test.afterAll(() => {
  server?.kill();
});

test('a shared link asks for the token, opens after signing in, and signing out closes it', async ({ page, consoleErrors }) => {
  const traceId = hex(16);
  const seeded = await fetch(`${base}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'e2e' } }] },
        scopeSpans: [{ spans: [{
          traceId, spanId: 'a1a1a1a1a1a1a1a1', parentSpanId: '', name: 'job/guarded-job', kind: 1,
          startTimeUnixNano: `${BigInt(Date.now() - 5000) * 1_000_000n}`,
          endTimeUnixNano: `${BigInt(Date.now()) * 1_000_000n}`, status: { code: 1 },
        }] }],
      }],
    }),
  });
  expect(seeded.status).toBe(200);
  expect((await fetch(`${base}/api/v1/jobs`)).status).toBe(401);

  const link = `${base}/jobs/${traceId}?span=a1a1a1a1a1a1a1a1`;
  await page.goto(link);
  await expect(page).toHaveURL(/\/signin\?next=/);
  await expect(page.getByText('guarded-job')).toHaveCount(0);

  await page.getByLabel('API token').fill('wrong-token-0123456789');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('not valid');

  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(link);
  await expect(page.locator('body[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByRole('heading', { level: 1, name: 'guarded-job' })).toBeVisible();
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'jobtrace_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Strict');
  expect(session?.value).not.toContain(token);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin/);
  await page.goto(`${base}/`);
  await expect(page).toHaveURL(/\/signin\?next=%2F/);
  // The wrong token's answer is a 401, which the browser reports; nothing else may fail.
  const unexpected = consoleErrors.filter((e) => !/status of 401/.test(e));
  consoleErrors.splice(0, consoleErrors.length, ...unexpected);
});
