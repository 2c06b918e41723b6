// Rollouts: every published pack version with its state, review and assignments; for a
// version running in shadow, what it would have changed (counts and examples from the
// decisions made while it ran beside the enforced one); its history with evidence records.
// Read-only: drafting, approving, assigning, promoting and rolling back are done with
// `cavra policy publish` / `cavra rollout …` (or the API), each checked on the server.
import { h, clear, when, errorBox, table, kv, badge } from './dom.js';
import { get } from './api.js';

const CHANGES = [['newly_blocked', 'Newly blocked'], ['newly_allowed', 'Newly allowed'],
  ['approvals_added', 'Approvals added'], ['approvals_removed', 'Approvals removed'], ['other', 'Other']];

const target = (a) => a.target_kind === 'all' ? 'all repositories' : `${a.target_kind} ${a.target}`;

export async function rolloutsPage(main) {
  main.append(h('h1', {}, 'Rollouts'));
  const detail = h('section', { class: 'panel', id: 'rollout-detail', 'aria-labelledby': 'h-rollout', hidden: true });
  let list = [];
  try { list = await get('/v1/rollouts'); } catch (e) { main.append(errorBox(e)); return; }
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'h-versions' },
    h('h2', { id: 'h-versions' }, `Pack versions (${list.length})`),
    table(['Version', 'Pack', 'State', 'Author', 'Reviewed by', 'Assigned', 'Updated', ''], list.map(v => [
      h('code', {}, v.id), v.pack_id, h('span', { class: `state s-${v.state}` }, v.state), v.author,
      v.reviewed_by || '', (v.assignments || []).map(a => `${a.mode} → ${target(a)}`).join('; '),
      when(v.updated_at), h('button', { type: 'button', 'data-rollout': v.id, onclick: () => show(detail, v.id) }, 'Details')]),
    'No pack version published yet (cavra policy publish FILE).')), detail);
  main.append(h('p', { class: 'muted' }, 'Publishing, review, assignment, promotion and rollback: ',
    h('code', {}, 'cavra policy publish'), ' and ', h('code', {}, 'cavra rollout …'), ' (docs/rollout.md).'));
  const shadowing = list.find(v => (v.assignments || []).some(a => a.mode === 'shadow'));
  if (shadowing) await show(detail, shadowing.id);
}

async function show(el, id) {
  el.hidden = false;
  clear(el).append(h('h2', { id: 'h-rollout' }, `Version ${id}`));
  try {
    const [v, shadow] = await Promise.all([get(`/v1/rollouts/${encodeURIComponent(id)}`),
      get(`/v1/rollouts/${encodeURIComponent(id)}/shadow`)]);
    el.append(kv([['Pack', v.pack_id], ['State', v.state], ['Digest', h('code', {}, v.digest)],
      ['Author', v.author], ['Reviewed by', v.reviewed_by || '—'], ['Review reason', v.review_reason || ''],
      ['Signed by the server', v.signed ? 'yes' : 'no'], ['Drafted', when(v.created_at)]]));
    el.append(h('h3', {}, 'In shadow: what it would have changed'), shadowBox(shadow));
    if (v.replay) {
      const c = v.replay.changes || {};
      el.append(h('h3', {}, 'Replay of the recorded history (attached to the draft)'),
        kv(CHANGES.map(([k, label]) => [label, String(c[k] ?? 0)])));
    }
    const hist = v.history || [];
    el.append(h('h3', {}, 'History'), table(['When', 'Step', 'By', 'Evidence record'], hist.map(s => [
      when(s.at), s.step, s.actor, s.evidence_record ? h('code', {}, s.evidence_record) : '']), 'No step yet.'));
  } catch (e) { el.append(errorBox(e)); }
}

function shadowBox(r) {
  const box = h('div', { id: 'shadow-report', 'data-changed': String(r.changed ?? 0) });
  if (!r.decisions) {
    box.append(h('p', { class: 'muted' }, 'No decision was made in a repository where this version runs in shadow.'));
    return box;
  }
  box.append(h('p', {}, `${r.decisions} decision(s) made while it ran in shadow: ${r.changed} would have been decided otherwise, ${r.unchanged} alike.`),
    table(['Change', 'Decisions'], CHANGES.map(([k, label]) => [label, String((r.changes || {})[k] ?? 0)])));
  for (const [k, label] of CHANGES) {
    const ex = (r.examples || {})[k] || [];
    if (!ex.length) continue;
    box.append(h('h4', {}, `${label}: examples`), table(['When', 'Repository', 'Action', 'Target', 'Enforced', 'In shadow'], ex.map(e => [
      when(e.at), h('code', {}, e.repo_id), e.action, h('code', {}, e.target),
      [badge(e.enforced), ' ', h('code', {}, e.enforced_rule)], [badge(e.shadow), ' ', h('code', {}, e.shadow_rule)]])));
  }
  return box;
}
