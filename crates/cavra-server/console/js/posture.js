// Posture: decisions over time by outcome, blocked attempts trend, top rules, agents and
// sessions, break-glass use and approval latency — drawn from `GET /v1/posture` (the
// server's figures over its evidence).
import { h, kv, when, dur, errorBox, table } from './dom.js';
import { get } from './api.js';
import { OUTCOMES, legend, stacked, bars, line } from './charts.js';

export async function posturePage(main) {
  main.append(h('h1', {}, 'Posture'));
  let p;
  try { p = await get('/v1/posture'); } catch (e) {
    if (e.status === 404) { main.append(h('p', { class: 'notice', id: 'posture-missing' }, 'This server has no posture report (GET /v1/posture answers 404).')); return; }
    main.append(errorBox(e)); return;
  }
  const st = p.stats || {};
  const tl = (st.timeline || []).map(b => ({ ...b, label: when(b.bucket), short: when(b.bucket).slice(5, 16) }));
  const top = (list, k) => (list || []).map(x => [String(x[k]), x.count]);
  const lat = st.approvals_latency || {};
  main.append(
    h('section', { class: 'panel' }, kv([['Score', p.score !== undefined ? String(p.score) : ''], ['From', when(p.since)], ['To', when(p.until)],
      ['Generated', when(p.generated_at)], ['Bucket', st.bucket_seconds ? dur(st.bucket_seconds) : '']])),
    h('section', { class: 'panel chart', id: 'chart-timeline' }, h('h2', {}, 'Decisions over time, by outcome'), legend(OUTCOMES), stacked(tl, OUTCOMES)),
    h('section', { class: 'panel chart', id: 'chart-blocked' }, h('h2', {}, 'Blocked attempts'), line(tl, 'block')),
    h('div', { class: 'grid2' },
      h('section', { class: 'panel chart', id: 'chart-rules' }, h('h2', {}, 'Top rules'), bars(top(st.top_rules, 'rule'), { cls: 'f-block' })),
      h('section', { class: 'panel chart', id: 'chart-agents' }, h('h2', {}, 'Top agents'), bars(top(st.top_agents, 'agent'))),
      h('section', { class: 'panel chart', id: 'chart-sessions' }, h('h2', {}, 'Top sessions'), bars(top(st.top_sessions, 'session'))),
      h('section', { class: 'panel', id: 'latency' }, h('h2', {}, 'Approval latency'), kv([['Decided', String(lat.count ?? 0)],
        ['Median', lat.p50_seconds !== undefined && lat.p50_seconds !== null ? dur(Math.round(lat.p50_seconds)) : '–'],
        ['90th percentile', lat.p90_seconds !== undefined && lat.p90_seconds !== null ? dur(Math.round(lat.p90_seconds)) : '–'],
        ['Longest', lat.max_seconds !== undefined && lat.max_seconds !== null ? dur(Math.round(lat.max_seconds)) : '–']]))),
    h('section', { class: 'panel', id: 'bg-use' }, h('h2', {}, 'Break-glass use'),
      (st.break_glass || []).length ? h('p', { class: 'breakglass' }, `${st.break_glass.length} break-glass override(s) in this period`) : null,
      table(['Record', 'By', 'Reason', 'Created', 'Expires'], (st.break_glass || []).map(b => [h('code', {}, b.id), b.actor, b.reason, when(b.created_at), when(b.expires_at)]), 'No break-glass in this period.')),
    h('section', { class: 'panel', id: 'findings' }, h('h2', {}, 'Findings'),
      table(['Severity', 'Finding', 'Detail'], (p.findings || []).map(f => [f.severity || '', f.title || f.id || f.kind || '', f.detail || f.message || f.description || '']), 'No findings.')));
}
