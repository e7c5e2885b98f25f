// Where the job page's scrolling time goes: a CPU profile (Chromium's Profiler over the DevTools
// protocol) of 240 animation frames scrolling the span tree 240 px each, self time by function.
//
//   node bench/profile-scroll.mjs http://127.0.0.1:3000 <trace id>
//
// Needs a running jobtrace with the trace (e.g. one seeded by bench/waterfall.mjs's `seed`).
import { chromium } from 'playwright';
import { printProfile } from './cpu-profile.mjs';

const [base, trace] = process.argv.slice(2);
if (!base || !trace) {
  console.error('usage: node bench/profile-scroll.mjs <base url> <trace id>');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
await page.goto(`${base}/jobs/${trace}`, { timeout: 300_000 });
await page.waitForSelector('body[data-hydrated]', { timeout: 300_000 });
const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
await cdp.send('Profiler.start');
await page.evaluate(async () => {
  const scroller = document.querySelector('.waterfall__scroll');
  for (let i = 0; i < 240; i++) {
    scroller.scrollTop += 240;
    await new Promise((r) => requestAnimationFrame(r));
  }
});
const { profile } = await cdp.send('Profiler.stop');
printProfile(profile);
await browser.close();
