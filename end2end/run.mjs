// Runs the Playwright suite and prints the closing line CI reads: "N passed, N failed".
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const result = spawnSync('npx', ['playwright', 'test', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' },
});
let passed = 0;
let failed = 0;
try {
  const report = JSON.parse(fs.readFileSync('test-results/results.json', 'utf8'));
  passed = report.stats.expected + report.stats.flaky;
  failed = report.stats.unexpected;
} catch (error) {
  console.error(`no Playwright report: ${error}`);
  failed = Math.max(failed, 1);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(result.status === 0 && failed === 0 ? 0 : 1);
