// Chromium's sampling profile (DevTools `Profiler.stop`) summed into self time per function,
// printed longest first: shared by bench/profile-scroll.mjs and bench/waterfall.mjs.
export function printProfile(profile, { label = '', top = 25 } = {}) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfTime = new Map();
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id).callFrame;
    const key = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').pop()}`;
    selfTime.set(key, (selfTime.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfTime.values()].reduce((a, b) => a + b, 0);
  console.log(`${label}sampled ${(total / 1000).toFixed(0)} ms; self time by function:`);
  for (const [key, us] of [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(us / 1000).toFixed(1).padStart(9)} ms  ${key}`);
  }
}
