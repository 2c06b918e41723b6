// Policies: the packs, one pack's rules, a diff of two packs, and a replay of the recorded
// history under a candidate pack (newly blocked / newly allowed, with examples).
import { h, clear, errorBox, table, kv, badge } from './dom.js';
import { get, post } from './api.js';

const exRow = (e) => [e.action, h('code', {}, e.target), badge(e.old.decision), badge(e.new.decision), h('code', {}, e.new.rule_id)];
const pre = (v) => h('pre', { class: 'mono' }, JSON.stringify(v, null, 2));

export async function policiesPage(main) {
  main.append(h('h1', {}, 'Policies'));
  let packs = [];
  try { packs = await get('/v1/policies'); } catch (e) { main.append(errorBox(e)); return; }
  const ids = packs.map(p => p.id || p.pack_id || p.name).filter(Boolean);
  const opts = () => ids.map(id => h('option', { value: id }, id));
  const rules = h('section', { class: 'panel', 'aria-labelledby': 'h-rules', hidden: true });
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'h-packs' }, h('h2', { id: 'h-packs' }, `Packs (${packs.length})`),
    table(['Pack', 'Version', 'Digest', 'Rules', 'Origin', ''], packs.map(p => [h('code', {}, p.id || p.name), p.version || '',
      h('code', {}, (p.digest || '').slice(0, 16)), String(p.rules ?? p.rule_count ?? ''), p.origin || p.source || '',
      h('button', { type: 'button', onclick: () => showPack(rules, p.id || p.name) }, 'Rules')]))), rules);

  const from = h('select', { id: 'diff-from' }, opts()), to = h('select', { id: 'diff-to' }, opts());
  if (ids.length > 1) to.value = ids[1];
  const diffOut = h('div', { 'aria-live': 'polite' });
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'h-diff' }, h('h2', { id: 'h-diff' }, 'Diff two packs'),
    h('form', { class: 'row', onsubmit: async (ev) => {
      ev.preventDefault(); clear(diffOut);
      try {
        const d = await post('/v1/policies/diff', { from: from.value, to: to.value });
        diffOut.append(h('p', { class: d.loosens ? 'bad' : 'ok' }, d.loosens ? 'This change LOOSENS the policy.' : 'This change does not loosen the policy.'),
          table(['Rule', 'Change', 'Effect', 'Direction', 'Details'], (d.rules || []).map(c => [h('code', {}, c.rule_id), c.change, `${c.from_effect || '–'} → ${c.to_effect || '–'}`, h('span', { class: c.direction === 'loosened' ? 'bad' : '' }, c.direction || ''), (c.details || []).join('; ')]), 'The two packs decide alike.'),
          h('details', {}, h('summary', {}, 'The diff document'), pre(d)));
      } catch (e) { diffOut.append(errorBox(e)); }
    } }, h('label', { for: 'diff-from' }, 'From', from), h('label', { for: 'diff-to' }, 'To', to), h('button', { type: 'submit' }, 'Diff')), diffOut));

  const cand = h('select', { id: 'replay-pack' }, opts());
  if (ids.includes('cavra-strict')) cand.value = 'cavra-strict';
  const since = h('input', { id: 'replay-since', size: 8, placeholder: '7d' });
  const repOut = h('div', { 'aria-live': 'polite' });
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'h-replay' }, h('h2', { id: 'h-replay' }, 'Replay the recorded history under a pack'),
    h('form', { class: 'row', onsubmit: async (ev) => {
      ev.preventDefault(); clear(repOut);
      try {
        const body = { pack: cand.value, examples: 5 };
        if (since.value.trim()) body.since = since.value.trim();
        const r = await post('/v1/policies/replay', body);
        const ex = (k) => (r.examples && r.examples[k]) || [];
        repOut.append(kv(Object.entries(r).filter(([, v]) => typeof v !== 'object').map(([k, v]) => [k, String(v)])),
          h('h2', {}, 'Newly blocked'), table(['Action', 'Target', 'Was', 'Now', 'Rule now'], ex('newly_blocked').map(exRow), 'None.'),
          h('h2', {}, 'Newly allowed'), table(['Action', 'Target', 'Was', 'Now', 'Rule now'], ex('newly_allowed').map(exRow), 'None.'),
          h('details', {}, h('summary', {}, 'The replay document'), pre(r)));
      } catch (e) { repOut.append(errorBox(e)); }
    } }, h('label', { for: 'replay-pack' }, 'Candidate pack', cand), h('label', { for: 'replay-since' }, 'Since', since), h('button', { type: 'submit' }, 'Replay')), repOut));
}

async function showPack(el, id) {
  el.hidden = false;
  clear(el).append(h('h2', { id: 'h-rules' }, `Rules of ${id}`));
  try {
    const p = await get(`/v1/policies/${encodeURIComponent(id)}`);
    const rs = p.rules || [];
    el.append(table(['Rule', 'Effect', 'Severity', 'Action', 'Reason'], rs.map(r => [h('code', {}, r.id || r.rule_id), r.effect || r.decision || '', r.severity || '', r.action || r.action_type || (r.actions || []).join(', '), r.reason || r.description || ''])));
  } catch (e) { el.append(errorBox(e)); }
}
