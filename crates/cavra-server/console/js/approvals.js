// Approvals: the pending queue (age, expiry), approve/deny with a reason, each request's
// audit trail; break-glass creation (time-boxed, reason required) and the records, loudly
// flagged; held sessions with release. Buttons appear only for roles that may act; the
// server checks role and repository on every call anyway.
import { h, clear, kv, when, age, dur, errorBox, table } from './dom.js';
import { get, post, may } from './api.js';
import { refreshBreakGlass } from './app.js';

function stateBadge(a) {
  if (a.break_glass) return h('span', { class: 'badge o-break_glass' }, `BREAK-GLASS ${a.state}`);
  const cls = { pending: 'require_approval', approved: 'allow', denied: 'block' }[a.state] || 'shadow';
  return h('span', { class: `badge o-${cls}` }, a.state);
}

function decideForm(a, done) {
  if (a.state !== 'pending') return null;
  if (!may('approve') && !may('deny')) return h('p', { class: 'muted', 'data-role-hidden': 'approve' }, 'Your role may read this request, not decide it.');
  const reason = h('input', { id: `reason-${a.approval_id}`, placeholder: 'why (recorded, signed)', size: 28, required: true });
  const out = h('span', { 'aria-live': 'polite' });
  const act = (verb) => async () => {
    if (!reason.value.trim()) { out.textContent = 'A reason is required.'; reason.focus(); return; }
    try { await post(`/v1/approvals/${encodeURIComponent(a.approval_id)}/${verb}`, { reason: reason.value.trim() }); done(); } catch (e) { clear(out).append(errorBox(e)); }
  };
  return h('div', { class: 'row' }, h('label', { for: reason.id }, 'Reason', reason),
    may('approve') ? h('button', { type: 'button', class: 'primary', 'data-action': 'approve', onclick: act('approve') }, 'Approve') : null,
    may('deny') ? h('button', { type: 'button', class: 'danger', 'data-action': 'deny', onclick: act('deny') }, 'Deny') : null, out);
}

export async function approvalsPage(main) {
  main.append(h('h1', {}, 'Approvals'));
  const pending = h('section', { class: 'panel', 'aria-labelledby': 'h-pending' });
  const bg = h('section', { class: 'panel', 'aria-labelledby': 'h-bg' });
  const held = h('section', { class: 'panel', 'aria-labelledby': 'h-held' });
  const recent = h('section', { class: 'panel', 'aria-labelledby': 'h-recent' });
  main.append(pending, bg, held, recent);
  async function load() {
    let list = [];
    try { list = await get('/v1/approvals'); } catch (e) { clear(pending).append(errorBox(e)); return; }
    const now = Date.now();
    const open = list.filter(a => a.state === 'pending' && !a.break_glass);
    clear(pending).append(h('h2', { id: 'h-pending' }, `Pending (${open.length})`),
      table(['Request', 'Action', 'Target', 'Rule', 'Requested by', 'Group', 'Age', 'Expires in', ''],
        open.map(a => [h('a', { href: `/approvals/${a.approval_id}`, 'data-nav': true, class: 'mono' }, a.approval_id), a.action_type,
          h('code', {}, a.target), h('code', {}, a.rule_id), a.requested_by, a.approver_group, age(a.requested_at, now),
          dur(Math.round((new Date(a.expires_at).getTime() - now) / 1000)), decideForm(a, load)]), 'No request waits for a person.'));
    const glass = list.filter(a => a.break_glass);
    clear(bg).append(h('h2', { id: 'h-bg' }, `Break-glass (${glass.length})`),
      glass.length ? h('p', { class: 'breakglass' }, `${glass.length} break-glass record(s): overrides of policy — review them`) : null,
      table(['Record', 'State', 'By', 'Reason', 'Created', 'Expires'], glass.map(a => [
        h('a', { href: `/approvals/${a.approval_id}`, 'data-nav': true, class: 'mono' }, a.approval_id), stateBadge(a), a.requested_by,
        a.break_glass_reason || '', when(a.requested_at), when(a.expires_at)]), 'No break-glass record.'),
      breakGlassForm(load));
    const done = list.filter(a => a.state !== 'pending' && !a.break_glass).slice(0, 50);
    clear(recent).append(h('h2', { id: 'h-recent' }, 'Decided recently'),
      table(['Request', 'State', 'Target', 'Decided by', 'Reason', 'When'], done.map(a => [
        h('a', { href: `/approvals/${a.approval_id}`, 'data-nav': true, class: 'mono' }, a.approval_id), stateBadge(a),
        h('code', {}, a.target), a.decided_by || '', a.decision_reason || '', when(a.decided_at)]), 'None yet.'));
    await loadHeld(held);
    refreshBreakGlass();
  }
  await load();
}

function breakGlassForm(done) {
  if (!may('break_glass')) return h('p', { class: 'muted' }, 'Break-glass takes the role admin.');
  const reason = h('input', { id: 'bg-reason', size: 30, required: true, placeholder: 'incident, ticket, why now' });
  const ttl = h('select', { id: 'bg-ttl' }, ['15m', '30m', '1h', '4h'].map(t => h('option', { value: t }, t)));
  const action = h('select', { id: 'bg-action' }, ['execute_command', 'write_file', 'read_file', 'delete_file', 'git_operation', 'mcp_tool_call', 'network_request'].map(t => h('option', { value: t }, t)));
  const target = h('input', { id: 'bg-target', size: 22, required: true, placeholder: 'target or glob, e.g. terraform apply*' });
  const out = h('span', { 'aria-live': 'polite' });
  return h('form', { class: 'row', id: 'bg-form', onsubmit: async (ev) => {
    ev.preventDefault();
    if (!reason.value.trim() || !target.value.trim()) { out.textContent = 'A reason and a target are required.'; return; }
    const body = { reason: reason.value.trim(), ttl: ttl.value, action_type: action.value, target: target.value.trim() };
    try { await post('/v1/break-glass', body); reason.value = ''; done(); } catch (e) { clear(out).append(errorBox(e)); }
  } }, h('label', { for: 'bg-reason' }, 'Reason (required)', reason), h('label', { for: 'bg-ttl' }, 'For', ttl),
  h('label', { for: 'bg-action' }, 'Action', action), h('label', { for: 'bg-target' }, 'Target (required)', target),
  h('button', { type: 'submit', class: 'danger', id: 'bg-create' }, 'Create break-glass'), out);
}

async function loadHeld(el) {
  let list = [];
  try { list = await get('/v1/sessions?held=true'); } catch (e) { clear(el).append(errorBox(e)); return; }
  list = Array.isArray(list) ? list : [];
  clear(el).append(h('h2', { id: 'h-held' }, `Held sessions (${list.length})`),
    table(['Session', 'Agent', 'Blocks', 'Held since', ''], list.map(s => [h('code', {}, s.session_id), s.agent_id || '',
      String(s.total_blocks ?? ''), when(s.held_at), releaseForm(s, () => loadHeld(el))]), 'No session is held.'));
}

function releaseForm(s, done) {
  if (!may('release')) return '';
  const reason = h('input', { size: 20, placeholder: 'why', 'aria-label': `Reason to release ${s.session_id}` });
  const out = h('span');
  return h('span', { class: 'row' }, reason, h('button', { type: 'button', onclick: async () => {
    if (!reason.value.trim()) { out.textContent = 'A reason is required.'; return; }
    try { await post(`/v1/sessions/${encodeURIComponent(s.session_id)}/release`, { reason: reason.value.trim() }); done(); } catch (e) { clear(out).append(errorBox(e)); }
  } }, 'Release'), out);
}

export async function approvalPage(main, id) {
  main.append(h('p', {}, h('a', { href: '/approvals', 'data-nav': true }, '← Approvals')));
  const box = h('div');
  main.append(box);
  async function load() {
    let a;
    try { a = await get(`/v1/approvals/${encodeURIComponent(id)}`); } catch (e) { clear(box).append(errorBox(e)); return; }
    clear(box).append(h('h1', {}, a.break_glass ? 'Break-glass ' : 'Approval request ', h('code', {}, a.approval_id), ' ', stateBadge(a)));
    if (a.break_glass) box.append(h('p', { class: 'breakglass' }, `BREAK-GLASS: a time-boxed override of policy by ${a.requested_by} — “${a.break_glass_reason || ''}”`));
    box.append(h('section', { class: 'panel' }, kv([
      ['Action', a.action_type], ['Target', h('code', {}, a.target)], ['Rule', h('code', {}, a.rule_id)], ['Severity', a.severity],
      ['Agent', a.agent_id], ['Session', a.session_id], ['Repository', a.repo], ['Requested by', a.requested_by],
      ['Requested', `${when(a.requested_at)} (${age(a.requested_at)} ago)`], ['Expires', when(a.expires_at)],
      ['Approver group', a.approver_group], ['Uses', `${a.uses}/${a.max_uses}`],
      ['Decision', a.decision_id ? h('a', { href: `/decisions/${encodeURIComponent(a.decision_id)}`, 'data-nav': true, class: 'mono' }, a.decision_id) : ''],
      ['Decided by', a.decided_by], ['Reason', a.decision_reason], ['Signature', a.signature_verified === false ? h('span', { class: 'bad' }, 'NOT verified') : a.signature_verified ? h('span', { class: 'ok' }, 'verified') : '']]),
      decideForm(a, load)),
    h('section', { class: 'panel' }, h('h2', {}, 'Audit trail'),
      table(['When', 'Event', 'By', 'Reason'], (a.history || []).map(e => [when(e.at || e.timestamp), e.event || e.action || e.state || '', e.by || e.actor || '', e.reason || '']), 'No history.')));
  }
  await load();
}
