// One decision: the request, the decision, every matched rule with what exactly it matched
// and why, the safer alternative, the pack, and its evidence record with the inclusion
// proof checked (by the server against its trust root, and here in the browser).
import { h, badge, kv, when, errorBox, table } from './dom.js';
import { get } from './api.js';
import { checkInBrowser } from './merkle.js';

export async function detailPage(main, id) {
  main.append(h('p', {}, h('a', { href: '/decisions', 'data-nav': true }, '← Live decisions')));
  let hit;
  try { hit = await get(`/v1/decisions/${encodeURIComponent(id)}`); } catch (e) { main.append(errorBox(e)); return; }
  const d = hit.body || {};
  const req = d.request || {};
  main.append(h('h1', {}, 'Decision ', h('code', {}, d.decision_id || id), ' ', badge(d.cavra_decision)));
  if (d.cavra_decision === 'break_glass') main.append(h('p', { class: 'breakglass' }, 'Allowed by a BREAK-GLASS override'));
  main.append(h('div', { class: 'grid2' },
    h('section', { class: 'panel', 'aria-labelledby': 'h-req' }, h('h2', { id: 'h-req' }, 'Request'), kv([
      ['Action', d.action_type], ['Target', h('code', {}, d.target || '')],
      ['Operation', d.requested_operation !== d.target ? d.requested_operation : ''],
      ['Directory', req.cwd], ['Agent', d.agent_id], ['Session', d.session_id],
      ['Request hash', h('code', {}, d.request_hash || '')], ['Time', when(d.timestamp)]])),
    h('section', { class: 'panel', 'aria-labelledby': 'h-dec' }, h('h2', { id: 'h-dec' }, 'Decision'), kv([
      ['Outcome', badge(d.cavra_decision)], ['Enforced', d.enforced_decision !== d.cavra_decision ? d.enforced_decision : ''],
      ['Proceed', d.proceed ? 'yes' : 'no'], ['Rule', h('code', {}, d.rule_id || '')], ['Severity', d.severity],
      ['Reason', d.reason], ['Inspected', d.scope], ['Safer alternative', d.alternative],
      ['Approver group', d.approver_group], ['Controls', (d.controls || []).join(', ')],
      ['Pack', `${d.policy_pack || ''} ${d.policy_version || ''}`], ['Pack digest', h('code', {}, d.policy_digest || '')],
      ['Mode', d.mode], ['Evaluated in', d.evaluation_us !== undefined ? `${d.evaluation_us} µs` : '']]))));
  const m = d.matches || [];
  main.append(h('section', { class: 'panel', 'aria-labelledby': 'h-rules' }, h('h2', { id: 'h-rules' }, 'Matched rules'),
    table(['Rule', 'Effect', 'Severity', 'What exactly matched', 'Why', 'Instead'],
      m.map(r => [h('code', {}, r.rule_id), r.effect, r.severity, h('code', {}, r.matched || ''), r.reason, r.alternative || '']),
      (d.rule_ids || []).length ? `Rules: ${(d.rule_ids || []).join(', ')}` : 'No rule matched: the pack’s default applied.')));
  const ev = h('section', { class: 'panel', id: 'evidence', 'aria-labelledby': 'h-ev' }, h('h2', { id: 'h-ev' }, 'Evidence'));
  main.append(ev);
  const btn = h('button', { type: 'button', class: 'primary', id: 'verify-proof' }, 'Verify its inclusion proof');
  ev.append(kv([['Record', h('code', {}, hit.record_id || '')], ['Sequence', hit.seq], ['Kind', hit.kind]]), h('p', {}, btn));
  const out = h('div', { 'aria-live': 'polite' });
  ev.append(out);
  btn.addEventListener('click', async () => {
    btn.disabled = true; out.textContent = 'Checking…';
    try {
      const c = await get(`/console/proof/${encodeURIComponent(hit.record_id)}`);
      const p = c.proof; const cp = p.checkpoint;
      const mine = await checkInBrowser(p);
      const okAll = c.ok && mine.leafOk && mine.rootOk;
      out.textContent = '';
      out.append(
        h('p', { id: 'proof-result', class: okAll ? 'ok' : 'bad', 'data-ok': String(okAll) },
          okAll ? `Verified: record ${p.record_id} is included in the latest signed checkpoint covering it, over ${cp.tree_size} records.`
            : `NOT verified: ${[...c.issues, ...(mine.leafOk ? [] : ['leaf hash (browser)']), ...(mine.rootOk ? [] : ['audit path (browser)'])].join('; ')}`),
        kv([['Checkpoint', `${cp.tree_size} records, signed ${when(cp.timestamp)}`], ['Root', h('code', {}, cp.root_hash)],
          ['Signed by', h('code', {}, `${cp.key_id} (${cp.alg})`)], ['Keys trusted', c.keys + (c.trust_root ? ' (a trust root)' : ' (the log’s own keys: no trust root configured)')]]),
        h('h2', {}, 'What was checked'),
        h('ul', {}, c.checked.map(x => h('li', {}, `Server: ${x}`)),
          h('li', { class: mine.leafOk ? 'ok' : 'bad' }, `Browser: SHA-256(0x00 ‖ record line) = ${mine.leaf.slice(0, 16)}… ${mine.leafOk ? 'equals' : 'differs from'} the proof's leaf hash`),
          h('li', { class: mine.rootOk ? 'ok' : 'bad' }, `Browser: the ${p.audit_path.length}-hash audit path from leaf ${p.leaf_index} ${mine.rootOk ? 'leads' : 'does NOT lead'} to the checkpoint root`)),
        h('details', {}, h('summary', {}, 'The record as stored'), h('pre', { class: 'mono' }, p.record_line)));
    } catch (e) { out.textContent = ''; out.append(errorBox(e)); }
    btn.disabled = false;
  });
}
