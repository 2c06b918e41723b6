// Pushes RATE decisions/s for SECS seconds to BASE (POST /v1/decisions with the agent
// token AGENT), paced every 10 ms, at most 256 in flight; prints {"sent","failed","secs"}.
// A process of its own, so that the pushing does not slow the browser's driver.
const { BASE, AGENT } = process.env;
const RATE = Number(process.env.RATE || 1000), SECS = Number(process.env.SECS || 10);
let sent = 0, failed = 0;
const t0 = Date.now(), inflight = new Set();
const body = (n) => JSON.stringify({ action_type: 'execute_command', target: `echo stress-${n}`, agent_id: 'stress-agent', session_id: `stress-${n % 50}` });
while (Date.now() - t0 < SECS * 1000) {
  const due = Math.floor(((Date.now() - t0) / 1000) * RATE);
  while (sent < due && inflight.size < 256) {
    const p = fetch(`${BASE}/v1/decisions`, { method: 'POST', headers: { Authorization: `Bearer ${AGENT}`, 'Content-Type': 'application/json' }, body: body(sent) })
      .then(r => { if (!r.ok) failed++; return r.arrayBuffer(); }).catch(() => { failed++; })
      .finally(() => inflight.delete(p));
    inflight.add(p); sent++;
  }
  await new Promise(r => setTimeout(r, 10));
}
await Promise.all(inflight);
console.log(JSON.stringify({ sent, failed, secs: (Date.now() - t0) / 1000 }));
