// Registries: agents and MCP servers with trust tier and state; approve/block (admin).
import { h, clear, when, errorBox, table } from './dom.js';
import { get, post, may } from './api.js';

function actions(kind, id, done) {
  if (!may('admin')) return '';
  const out = h('span');
  const act = (verb) => async () => {
    try { await post(`/v1/registry/${kind}/${encodeURIComponent(id)}/${verb}`, { reason: `from the console` }); done(); } catch (e) { clear(out).append(errorBox(e)); }
  };
  return h('span', { class: 'row' }, h('button', { type: 'button', onclick: act('approve') }, 'Approve'),
    h('button', { type: 'button', class: 'danger', onclick: act('block') }, 'Block'), out);
}

export async function registriesPage(main) {
  main.append(h('h1', {}, 'Registries'));
  const agents = h('section', { class: 'panel', 'aria-labelledby': 'h-agents' });
  const mcp = h('section', { class: 'panel', 'aria-labelledby': 'h-mcp' });
  main.append(agents, mcp);
  if (!may('admin')) main.append(h('p', { class: 'muted' }, 'Approving and blocking take the role admin.'));
  async function load() {
    try {
      const list = await get('/v1/registry/agents');
      clear(agents).append(h('h2', { id: 'h-agents' }, `Agents (${list.length})`),
        table(['Agent', 'Profile', 'Vendor', 'Owner', 'Risk tier', 'Status', 'Updated', ''], list.map(a => [
          h('code', {}, a.agent_id), a.profile, a.vendor || '', a.owner || '', a.risk_tier || '',
          h('span', { class: a.status === 'blocked' ? 'bad' : a.status === 'approved' ? 'ok' : '' }, a.status),
          when(a.updated_at), actions('agents', a.agent_id, load)]), 'No agent registered.'));
    } catch (e) { clear(agents).append(errorBox(e)); }
    try {
      const list = await get('/v1/registry/mcp-servers');
      clear(mcp).append(h('h2', { id: 'h-mcp' }, `MCP servers (${list.length})`),
        table(['Server', 'Name', 'Trust tier', 'State', 'Tools', ''], list.map(m => [
          h('code', {}, m.server_id || m.id), m.name || '',
          h('span', { class: m.trust_tier === 'blocked' ? 'bad' : '' }, m.trust_tier || ''),
          h('span', { class: ['blocked', 'denied'].includes(m.approval_state) ? 'bad' : m.approval_state === 'approved' ? 'ok' : '' }, m.approval_state || ''),
          (m.tools || []).join(', '), actions('mcp-servers', m.server_id || m.id, load)]), 'No MCP server registered.'));
    } catch (e) { clear(mcp).append(errorBox(e)); }
  }
  await load();
}
