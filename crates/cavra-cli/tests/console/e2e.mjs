// The console in headless Chromium (playwright-core), against a real `cavra serve` that
// console_e2e.rs started. Env: BASE, PW (playwright-core's directory), CHROMIUM,
// TOKENS (JSON: agent, approver, auditor, admin), SHOTS (a directory: screenshots), PROJECT.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PW);
const BASE = process.env.BASE;
const T = JSON.parse(process.env.TOKENS);
const SHOTS = process.env.SHOTS || '';
const PROJECT = process.env.PROJECT;

function check(cond, what) { if (!cond) throw new Error(`FAILED: ${what}`); console.log(`ok: ${what}`); }

async function hook(toolName, toolInput, session = 'e2e-1') {
  const event = { hook_event_name: 'PreToolUse', session_id: session, cwd: PROJECT, tool_name: toolName, tool_input: toolInput };
  const res = await fetch(`${BASE}/v1/hooks/claude-code`, { method: 'POST',
    headers: { Authorization: `Bearer ${T.agent}`, 'Content-Type': 'application/json' }, body: JSON.stringify(event) });
  if (!res.ok) throw new Error(`hook: HTTP ${res.status} ${await res.text()}`);
  const v = await res.json();
  const out = (v.answer && v.answer.hookSpecificOutput) || {};
  return { decision: out.permissionDecision || (v.exit_code === 2 ? 'deny' : 'none'), reason: out.permissionDecisionReason || v.stderr || '' };
}

async function shot(page, name) {
  if (!SHOTS) return;
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  console.log(`screenshot: ${name}.png`);
}

async function signIn(browser, token, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'dark', ...opts });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => { console.log(`page error: ${e.message}`); process.exitCode = 1; });
  page.on('console', (m) => { if (m.type() === 'error') console.log(`console error: ${m.text()}`); });
  await page.goto(`${BASE}/`);
  await page.waitForSelector('#token');
  await page.fill('#token', token);
  await page.click('#signin-token');
  await page.waitForSelector('#live-list[data-stream="open"]');
  return { ctx, page };
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
try {
  // an agent token does not sign in
  {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${BASE}/signin`);
    await page.fill('#token', T.agent);
    await page.click('#signin-token');
    await page.waitForSelector('.error');
    check((await page.textContent('.error')).includes('403'), 'an agent token is refused at sign-in (403)');
    await ctx.close();
  }

  // 1. sign in with a token (an approver); a hook call's decision appears live
  const bob = await signIn(browser, T.approver);
  check(await bob.page.isVisible('nav'), 'signed in with a token: the pages are offered');
  const blocked = await hook('Read', { file_path: `${PROJECT}/.env` });
  check(blocked.decision === 'deny', `the hook blocks reading .env (${blocked.decision})`);
  const row = bob.page.locator('#live-list .vrow', { hasText: '.env' }).first();
  await row.waitFor({ timeout: 15000 });
  check(true, 'the decision appeared in the live list');
  await shot(bob.page, 'decisions');

  // 2. its detail, and its proof verified
  await row.click();
  await bob.page.waitForSelector('#verify-proof');
  check((await bob.page.textContent('main')).includes('secrets.dotenv.read'), 'the detail names the matched rule');
  await bob.page.click('#verify-proof');
  await bob.page.waitForSelector('#proof-result');
  check((await bob.page.getAttribute('#proof-result', 'data-ok')) === 'true', 'the inclusion proof verifies (server and browser)');
  await shot(bob.page, 'decision-detail');

  // 3. a held write: the agent is told the approval page; the approver approves there;
  //    the agent's retry passes once
  const write = { file_path: '/work/elsewhere/cavra-e2e-approval.txt', content: 'x' };
  const held = await hook('Write', write, 'e2e-2');
  const url = (held.reason.match(/https?:\/\/\S+\/approvals\/apr-[\w-]+/) || [])[0];
  check(held.decision === 'deny' && url && url.startsWith(`${BASE}/approvals/`), `the held agent is told the console page (${url})`);
  await bob.page.goto(url);
  await bob.page.waitForSelector('[data-action="approve"]');
  await shot(bob.page, 'approval');
  await bob.page.fill('input[id^="reason-"]', 'e2e: the approver looked at it');
  await bob.page.click('[data-action="approve"]');
  await bob.page.waitForSelector('h1 .badge.o-allow');
  check((await bob.page.textContent('main')).includes('e2e: the approver looked at it'), 'approved, with the reason in the record');
  const retry = await hook('Write', write, 'e2e-2');
  check(retry.decision !== 'deny', `the agent's retry passes (${retry.decision})`);
  const again = await hook('Write', write, 'e2e-2');
  check(again.decision === 'deny', 'a second retry is held again: the approval passed once');

  // 4. an auditor: no button, and the server refuses (403) the call the button would make
  const aud = await signIn(browser, T.auditor);
  const held2 = await hook('Write', { file_path: '/work/elsewhere/cavra-e2e-auditor.txt', content: 'x' }, 'e2e-3');
  const url2 = (held2.reason.match(/https?:\/\/\S+\/approvals\/apr-[\w-]+/) || [])[0];
  await aud.page.goto(url2);
  await aud.page.waitForSelector('[data-role-hidden="approve"]');
  check(await aud.page.locator('[data-action="approve"]').count() === 0, 'the auditor sees no approve button');
  const id2 = url2.split('/').pop();
  const refused = await aud.page.evaluate(async (id) => {
    const s = await (await fetch('/console/session')).json();
    const r = await fetch(`/v1/approvals/${id}/approve`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token }, body: JSON.stringify({ reason: 'not mine to approve' }) });
    return { status: r.status, code: (await r.json()).error.code };
  }, id2);
  check(refused.status === 403 && refused.code === 'forbidden', `the server refuses the auditor's approval (${refused.status} ${refused.code})`);
  const noCsrf = await aud.page.evaluate(async (id) => {
    const r = await fetch(`/v1/approvals/${id}/deny`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"reason":"x"}' });
    return r.status;
  }, id2);
  check(noCsrf === 403, 'a cookie mutation without the CSRF token is refused (403)');
  await aud.ctx.close();

  // 5. an admin creates a break-glass; it is flagged on every page
  const admin = await signIn(browser, T.admin);
  await admin.page.goto(`${BASE}/approvals`);
  await admin.page.waitForSelector('#bg-reason');
  await admin.page.fill('#bg-reason', 'e2e: incident 42, production is down');
  await admin.page.selectOption('#bg-action', 'execute_command');
  await admin.page.fill('#bg-target', 'terraform apply*');
  await admin.page.click('#bg-create');
  await admin.page.waitForSelector('#breakglass:not([hidden]), #bg-form .error');
  check(await admin.page.locator('#bg-form .error').count() === 0, 'the break-glass is created');
  check((await admin.page.textContent('#breakglass')).includes('BREAK-GLASS ACTIVE'), 'the break-glass is flagged loudly');
  await shot(admin.page, 'approvals');
  await admin.page.click('nav a[href="/decisions"]');
  await admin.page.waitForSelector('#live-list');
  check(await admin.page.isVisible('#breakglass'), 'and flagged on the other pages too');

  // 6. registries (an admin blocks an MCP server) and policies
  for (const [path, body] of [['/v1/registry/agents', { agent_id: 'claude-code@ci', profile: 'builder', owner: 'platform' }],
    ['/v1/registry/mcp-servers', { server_id: 'github', name: 'GitHub MCP', trust_tier: 'verified', approval_state: 'approved', tools: ['create_issue'] }],
    ['/v1/registry/mcp-servers', { server_id: 'shady-tools', name: 'Unknown tools', tools: ['run'] }]]) {
    const r = await fetch(`${BASE}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${T.admin}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  }
  await admin.page.click('nav a[href="/registries"]');
  await admin.page.waitForSelector('#h-mcp');
  const shady = admin.page.locator('tr', { hasText: 'shady-tools' });
  await shady.locator('button', { hasText: 'Block' }).click();
  await admin.page.locator('tr', { hasText: 'shady-tools' }).locator('span.bad', { hasText: 'blocked' }).waitFor({ timeout: 10000 });
  check(true, 'an admin blocks an MCP server from the registry page');
  await shot(admin.page, 'registries');
  await admin.page.click('nav a[href="/policies"]');
  await admin.page.waitForSelector('#h-packs');
  await admin.page.click('#h-diff ~ form button[type="submit"]');
  await admin.page.waitForSelector('#h-diff ~ div p, #h-diff ~ div .error');
  await admin.page.click('#h-replay ~ form button[type="submit"]');
  await admin.page.waitForSelector('#h-replay ~ div h2, #h-replay ~ div .error');
  check(await admin.page.locator('#h-replay ~ div .error').count() === 0, 'a replay of the history under a pack answers');
  await shot(admin.page, 'policies');

  // 7. posture
  await admin.page.click('nav a[href="/posture"]');
  await admin.page.waitForSelector('#chart-timeline svg rect');
  check(await admin.page.locator('#chart-timeline svg rect').count() > 0, 'the posture charts are drawn from the evidence');
  check((await admin.page.textContent('#bg-use')).includes('incident 42'), 'the posture page lists the break-glass created above');
  await shot(admin.page, 'posture');

  // 7b. rollouts: a pack version drafted by the admin, approved by a second person,
  // assigned in shadow to every repository; a hook call it would have blocked is shown
  // on the Rollouts page as "newly blocked", while the call itself passed
  const call = async (token, method, url, body) => {
    const res = await fetch(`${BASE}${url}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${text}`);
    return JSON.parse(text);
  };
  const floor = 'metadata: {id: cavra-e2e, title: E2E floor, version: "1"}\nrules:\n  - id: e2e.no_figlet\n    effect: block\n    severity: high\n    reason: no figlet here\n    match:\n      command: {program: [figlet]}\n';
  const draft = await call(T.admin, 'POST', '/v1/policies/drafts', { source: floor, name: 'floor.yaml' });
  await call(T.approver, 'POST', `/v1/rollouts/${draft.id}/approve`, { reason: 'replay looks right' });
  await call(T.admin, 'POST', `/v1/rollouts/${draft.id}/assign`, { all: true, mode: 'shadow', shadow_for: '7d' });
  const shadowed = await hook('Bash', { command: 'figlet hello' });
  check(shadowed.decision !== 'deny', `a version in shadow changes no verdict (${shadowed.decision})`);
  await admin.page.click('nav a[href="/rollouts"]');
  await admin.page.waitForSelector(`button[data-rollout="${draft.id}"]`);
  await admin.page.waitForSelector('#shadow-report');
  check((await admin.page.getAttribute('#shadow-report', 'data-changed')) === '1', 'the Rollouts page shows what the shadow version would have changed');
  check((await admin.page.textContent('#shadow-report')).includes('e2e.no_figlet'), 'with the example and the rule that would have blocked it');
  check((await admin.page.textContent('#rollout-detail')).includes('approved'), 'and the history of its review');
  await shot(admin.page, 'rollouts');

  // 8. light theme and a phone's width
  const phone = await signIn(browser, T.approver, { viewport: { width: 390, height: 844 }, colorScheme: 'light' });
  await phone.page.goto(`${BASE}/approvals`);
  await phone.page.waitForSelector('#h-pending');
  check((await phone.page.getAttribute('html', 'data-theme')) === 'light', 'the light theme follows the system preference');
  const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `readable at a phone's width (no page-wide horizontal scroll: ${overflow}px)`);
  await shot(phone.page, 'approvals-phone-light');
  console.log('e2e: ok');
} finally {
  await browser.close();
}
