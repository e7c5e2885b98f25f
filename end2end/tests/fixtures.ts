import { test as base, expect, type APIRequestContext, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export { expect };

export const hex = (bytes: number) => crypto.randomBytes(bytes).toString('hex');

/** The repository's root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs a script of end2end/fixtures/ with the real Tilebox client (the test venv's Python). */
export function runFixture(script: string, ...args: string[]): string {
  return execFileSync(path.join(root, '.venv/bin/python'), [path.join(root, 'end2end/fixtures', script), ...args], {
    encoding: 'utf8',
    timeout: 90_000,
  });
}

/** Runs end2end/fixtures/tiles_job.py (a fan-out of four tiles, one failing); returns the job id. */
export function runTilesJob(baseURL: string, name: string): string {
  const output = runFixture('tiles_job.py', '--url', baseURL, '--name', name);
  const jobId = output.match(/job id: ([0-9a-f-]{36})/)?.[1];
  expect(jobId, output).toBeTruthy();
  return jobId!;
}

type SpanSeed = {
  id: string;
  parent?: string;
  name: string;
  startMs: number;
  endMs: number;
  status?: 0 | 1 | 2;
  attributes?: Record<string, string>;
  /** service.instance.id of the process that recorded it (one resource per runner). */
  runner?: string;
};

/** Sends one trace (and its logs) through the real OTLP/HTTP JSON endpoints. */
export async function seedTrace(
  request: APIRequestContext,
  spans: SpanSeed[],
  logs: { spanId: string; atMs: number; body: string; severity?: number }[] = [],
  service = 'e2e-runner',
  traceId = hex(16),
): Promise<string> {
  const base = BigInt(Date.now() - 60_000) * 1_000_000n;
  const ns = (ms: number) => (base + BigInt(ms) * 1_000_000n).toString();
  const resource = { attributes: [{ key: 'service.name', value: { stringValue: service } }] };
  const runners = [...new Set(spans.map((s) => s.runner ?? ''))];
  const traces = await request.post('/v1/traces', {
    data: {
      resourceSpans: runners.map((runner) => ({
        resource: runner
          ? { attributes: [...resource.attributes, { key: 'service.instance.id', value: { stringValue: runner } }] }
          : resource,
        scopeSpans: [{
          scope: { name: 'e2e' },
          spans: spans.filter((s) => (s.runner ?? '') === runner).map((s) => ({
            traceId,
            spanId: s.id,
            parentSpanId: s.parent ?? '',
            name: s.name,
            kind: 1,
            startTimeUnixNano: ns(s.startMs),
            endTimeUnixNano: ns(s.endMs),
            attributes: Object.entries(s.attributes ?? {}).map(([key, v]) => ({ key, value: { stringValue: v } })),
            status: { code: s.status ?? 0 },
          })),
        }],
      })),
    },
  });
  expect(traces.status()).toBe(200);
  if (logs.length > 0) {
    const response = await request.post('/v1/logs', {
      data: {
        resourceLogs: [{
          resource,
          scopeLogs: [{
            scope: { name: 'e2e' },
            logRecords: logs.map((l) => ({
              timeUnixNano: ns(l.atMs),
              severityNumber: l.severity ?? 9,
              body: { stringValue: l.body },
              traceId,
              spanId: l.spanId,
            })),
          }],
        }],
      },
    });
    expect(response.status()).toBe(200);
  }
  return traceId;
}

/** The Tracing page's example job: a task with two custom spans and logs. */
export async function seedExampleJob(request: APIRequestContext, name: string, extra: Partial<SpanSeed> = {}) {
  const [job, task, download, compute] = [hex(8), hex(8), hex(8), hex(8)];
  const traceId = await seedTrace(
    request,
    [
      { id: job, name: `job/${name}`, startMs: 0, endMs: 3000 },
      { id: task, parent: job, name: 'task/ProcessScene', startMs: 100, endMs: 2900, status: 1 },
      { id: download, parent: task, name: 'download-scene', startMs: 150, endMs: 1500, attributes: { scene_id: 'S2A_001' }, ...extra },
      { id: compute, parent: task, name: 'compute-index', startMs: 1600, endMs: 2800 },
    ],
    [
      { spanId: download, atMs: 200, body: 'downloading scene S2A_001' },
      { spanId: compute, atMs: 2700, body: 'index computed', severity: 13 },
    ],
  );
  return { traceId, spans: { job, task, download, compute } };
}

/** Every test fails on a console error or an uncaught page exception. */
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(error.message));
      await use(errors);
      expect(errors, 'console errors').toEqual([]);
    },
    { auto: true },
  ],
});

/** Waits until the app has hydrated (an Effect marks the body). */
export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}
