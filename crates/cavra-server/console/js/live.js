// Live decisions: the server's SSE stream, rendered in batches (one per animation frame)
// into a bounded, virtualized list (only the rows in view are in the DOM), with filters
// and pause/resume. At 1,000 decisions/s the page keeps answering input: events are
// queued as they arrive and turned into rows at most once a frame.
import { h, clear, badge, when } from './dom.js';
import { get, query } from './api.js';

export const MAX_ROWS = 5000;
const ROW_H = 30;

function repoOf(d) {
  const r = d.request || {};
  return r.repository || r.repo || r.cwd || '';
}

// What a list row shows of a decision record.
function item(recordId, d) {
  return {
    id: d.decision_id || recordId, record: recordId, ts: d.timestamp || '',
    outcome: d.cavra_decision || d.decision || '', rule: d.rule_id || '',
    rules: d.rule_ids || [], agent: d.agent_id || '', session: d.session_id || '',
    target: `${d.action_type || ''} ${d.target || ''}`, repo: repoOf(d),
  };
}

function matches(f, it) {
  if (f.outcome && it.outcome !== f.outcome) return false;
  if (f.rule && !(it.rule.includes(f.rule) || it.rules.some(r => r.includes(f.rule)))) return false;
  if (f.agent && !it.agent.includes(f.agent)) return false;
  if (f.session && !it.session.includes(f.session)) return false;
  if (f.repo && !it.repo.includes(f.repo)) return false;
  if (f.since && it.ts && new Date(it.ts) < new Date(f.since)) return false;
  return true;
}

export async function livePage(main) {
  const f = { outcome: '', rule: '', agent: '', session: '', repo: '', since: '' };
  let rows = [];           // newest first, filtered, at most MAX_ROWS
  let queue = [];          // arrived, not rendered yet
  let paused = false, frame = 0, received = 0, dropped = 0, lagged = 0;
  const field = (name, label, el) => { el.id = `f-${name}`; el.addEventListener('change', () => { f[name] = el.value.trim(); reload(); }); return h('label', { for: el.id }, label, el); };
  const sel = h('select', {}, ['', 'allow', 'block', 'require_approval', 'shadow', 'break_glass']
    .map(o => h('option', { value: o }, o || 'any')));
  const pauseBtn = h('button', { type: 'button', id: 'pause', 'aria-pressed': 'false' }, 'Pause');
  const status = h('div', { class: 'stats', 'aria-live': 'off' });
  const spacer = h('div', { class: 'vspacer' });
  const list = h('div', { class: 'vlist', id: 'live-list', role: 'list', tabindex: '0', 'aria-label': 'Decisions, newest first' }, spacer);
  main.append(h('h1', {}, 'Live decisions'),
    h('div', { class: 'live-head' },
      field('outcome', 'Outcome', sel),
      field('rule', 'Rule', h('input', { size: 18, placeholder: 'secrets.' })),
      field('agent', 'Agent', h('input', { size: 14 })),
      field('session', 'Session', h('input', { size: 12 })),
      field('repo', 'Repository', h('input', { size: 14 })),
      field('since', 'Since', h('input', { type: 'datetime-local' })),
      pauseBtn),
    status, list);

  function paint() {
    spacer.style.height = `${rows.length * ROW_H}px`;
    const top = list.scrollTop, hgt = list.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - 5);
    const last = Math.min(rows.length, Math.ceil((top + hgt) / ROW_H) + 5);
    clear(spacer);
    for (let i = first; i < last; i++) {
      const it = rows[i];
      const a = h('a', { class: 'vrow', role: 'listitem', href: `/decisions/${encodeURIComponent(it.id)}`, 'data-nav': true, 'data-id': it.id },
        h('span', { class: 'mono' }, when(it.ts).slice(5)), h('span', {}, badge(it.outcome)),
        h('span', { class: 'mono' }, it.target), h('span', { class: 'mono' }, it.rule), h('span', {}, it.agent));
      a.style.transform = `translateY(${i * ROW_H}px)`;
      spacer.append(a);
    }
    status.textContent = `${rows.length} shown · ${received} received live` +
      (paused ? ` · paused, ${queue.length} waiting` : '') + (dropped ? ` · ${dropped} older rows dropped` : '') +
      (lagged ? ` · ${lagged} missed (the stream lagged)` : '');
  }

  function flush() {
    frame = 0;
    if (paused || !queue.length) { paint(); return; }
    const fresh = queue.filter(it => matches(f, it)).reverse();
    queue = [];
    rows = fresh.concat(rows);
    if (rows.length > MAX_ROWS) { dropped += rows.length - MAX_ROWS; rows.length = MAX_ROWS; }
    paint();
  }
  const schedule = () => { if (!frame) frame = requestAnimationFrame(flush); };

  async function reload() {
    const since = f.since ? new Date(f.since).toISOString() : '';
    try {
      const page = await get('/v1/decisions' + query({ decision: f.outcome, rule: f.rule, agent: f.agent, session: f.session, since, limit: 500 }));
      const fetched = (page.hits || []).map(hit => item(hit.record_id, hit.body || {})).filter(it => matches(f, it));
      // rows the stream delivered while the page was fetched are newer: keep them on top
      const seen = new Set(fetched.map(it => it.record));
      rows = rows.filter(it => !seen.has(it.record) && matches(f, it)).concat(fetched);
    } catch { rows = rows.filter(it => matches(f, it)); }
    paint();
  }

  pauseBtn.addEventListener('click', () => {
    paused = !paused;
    pauseBtn.textContent = paused ? 'Resume' : 'Pause';
    pauseBtn.setAttribute('aria-pressed', String(paused));
    schedule();
  });
  list.addEventListener('scroll', () => schedule(), { passive: true });

  const es = new EventSource('/v1/decisions/stream');
  es.addEventListener('decision', (ev) => {
    received++;
    try { const m = JSON.parse(ev.data); queue.push(item(m.record_id, m.decision || {})); } catch { return; }
    if (queue.length > MAX_ROWS) queue.splice(0, queue.length - MAX_ROWS);
    schedule();
  });
  es.addEventListener('lagged', (ev) => {
    try { lagged += JSON.parse(ev.data).missed || 1; } catch { lagged++; }
    schedule();
  });
  es.addEventListener('open', () => { list.setAttribute('data-stream', 'open'); });
  await reload();
  return () => { es.close(); if (frame) cancelAnimationFrame(frame); };
}
