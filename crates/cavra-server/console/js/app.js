// The console's shell: sign-in, navigation (history API), theme, the break-glass banner.
import { h, clear, errorBox, when } from './dom.js';
import { api, get, session } from './api.js';
import { livePage } from './live.js';
import { detailPage } from './detail.js';
import { approvalsPage, approvalPage } from './approvals.js';
import { registriesPage } from './registries.js';
import { policiesPage } from './policies.js';
import { posturePage } from './posture.js';
import { rolloutsPage } from './rollouts.js';

const main = document.getElementById('main');
let teardown = null;

const routes = [
  [/^\/(decisions)?$/, () => livePage],
  [/^\/decisions\/([^/]+)$/, (m) => (el) => detailPage(el, decodeURIComponent(m[1]))],
  [/^\/approvals$/, () => approvalsPage],
  [/^\/approvals\/([^/]+)$/, (m) => (el) => approvalPage(el, decodeURIComponent(m[1]))],
  [/^\/registries$/, () => registriesPage],
  [/^\/policies$/, () => policiesPage],
  [/^\/posture$/, () => posturePage],
  [/^\/rollouts$/, () => rolloutsPage],
];

export function go(path) {
  history.pushState({}, '', path);
  render();
}

async function render() {
  if (teardown) { try { teardown(); } catch { /* the page is gone anyway */ } teardown = null; }
  const path = location.pathname;
  if (!session.doc) {
    try { session.doc = await get('/console/session'); } catch { session.doc = null; }
  }
  showChrome();
  if (!session.doc || path === '/signin') { signinPage(); return; }
  for (const a of document.querySelectorAll('nav a')) {
    const here = path === a.getAttribute('href') || path.startsWith(a.getAttribute('href') + '/') ||
      (path === '/' && a.getAttribute('href') === '/decisions');
    if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  clear(main);
  for (const [re, page] of routes) {
    const m = path.match(re);
    if (m) {
      try { teardown = (await page(m)(main)) || null; } catch (e) { main.append(errorBox(e)); }
      main.focus({ preventScroll: true });
      return;
    }
  }
  main.append(h('h1', {}, 'Not found'), h('p', {}, 'No console page at ', h('code', {}, path)));
}

function showChrome() {
  const d = session.doc;
  document.getElementById('nav').hidden = !d;
  document.getElementById('signout').hidden = !d;
  document.getElementById('whoami').textContent = d ? `${d.identity} (${d.roles.join(', ')})` : '';
  if (d) refreshBreakGlass();
}

// Active break-glass overrides, flagged on every page while they last.
export async function refreshBreakGlass() {
  const el = document.getElementById('breakglass');
  try {
    const list = await get('/v1/approvals');
    const now = Date.now();
    const active = (Array.isArray(list) ? list : []).filter(a => a.break_glass &&
      ['approved', 'break_glass'].includes(a.state) && new Date(a.expires_at).getTime() > now);
    clear(el);
    el.hidden = active.length === 0;
    if (active.length) {
      el.append(h('span', {}, `BREAK-GLASS ACTIVE (${active.length}): `,
        active.map((a, i) => [i ? '; ' : '', h('a', { href: `/approvals/${a.approval_id}`, 'data-nav': true, class: 'mono' }, a.approval_id),
          ` ${a.action_type || ''} ${a.target || ''} by ${a.requested_by} until ${when(a.expires_at)} — “${a.break_glass_reason || ''}”`])));
    }
  } catch { el.hidden = true; }
}

function signinPage() {
  clear(main);
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true,
    placeholder: 'cavra-api.v1.…', 'aria-label': 'Server token' });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'panel', onsubmit: async (ev) => {
    ev.preventDefault(); clear(out);
    try {
      session.doc = await api('POST', '/console/session', { token: input.value });
      input.value = '';
      const next = location.pathname === '/signin' ? '/decisions' : location.pathname;
      go(next);
    } catch (e) { out.append(errorBox(e)); }
  } },
  h('h1', {}, 'Sign in'),
  h('p', { class: 'muted' }, 'With a server token (', h('code', {}, 'cavra tokens issue --role approver'), '). Agent tokens cannot sign in.'),
  h('label', { for: 'token' }, 'Token', input), ' ',
  h('p', {}, h('button', { class: 'primary', type: 'submit', id: 'signin-token' }, 'Sign in')), out);
  const oidc = h('div', { class: 'panel', hidden: true }, h('p', {}, 'Or at your identity provider: '),
    h('a', { id: 'signin-oidc', href: '/console/oidc/login?next=' + encodeURIComponent(location.pathname === '/signin' ? '/' : location.pathname) }, 'Sign in with OIDC'));
  main.append(h('div', { class: 'signin' }, form, oidc));
  get('/console/config').then(c => { if (c && c.auth && c.auth.oidc) oidc.hidden = false; }).catch(() => {});
  input.focus();
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a[data-nav]');
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  ev.preventDefault();
  go(a.getAttribute('href'));
});
window.addEventListener('popstate', render);

document.getElementById('signout').addEventListener('click', async () => {
  try { await api('DELETE', '/console/session'); } catch { /* signed out anyway */ }
  session.doc = null;
  go('/signin');
});

const themeButton = document.getElementById('theme');
function setTheme(t) {
  document.documentElement.setAttribute('data-theme', t);
  try { localStorage.setItem('cavra-theme', t); } catch { /* private mode */ }
}
setTheme((() => { try { return localStorage.getItem('cavra-theme'); } catch { return null; } })() ||
  (matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark'));
themeButton.addEventListener('click', () =>
  setTheme(document.documentElement.getAttribute('data-theme') === 'dark' ? 'light' : 'dark'));

render();
