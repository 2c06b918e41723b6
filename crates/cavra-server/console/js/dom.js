// DOM building without HTML strings: every value (an agent's command, a path) is text.
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  add(el, kids);
  return el;
}

const SVGNS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  add(el, kids);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function add(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

export function badge(outcome) {
  const o = outcome || 'unknown';
  return h('span', { class: `badge o-${o}` }, o.replace('_', ' '));
}

export function when(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  return isNaN(d) ? String(ts) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function age(ts, now = Date.now()) {
  const secs = Math.round((now - new Date(ts).getTime()) / 1000);
  return dur(secs);
}

export function dur(secs) {
  const neg = secs < 0; let t = Math.abs(secs);
  const u = t >= 86400 ? [Math.floor(t / 86400), 'd'] : t >= 3600 ? [Math.floor(t / 3600), 'h']
    : t >= 60 ? [Math.floor(t / 60), 'm'] : [t, 's'];
  return (neg ? '-' : '') + u[0] + u[1];
}

export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(p => p[1] !== undefined && p[1] !== null && p[1] !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function table(headers, rows, empty = 'Nothing here.') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('table', {}, h('thead', {}, h('tr', {}, headers.map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map(r => h('tr', {}, r.map(c => h('td', {}, c))))));
}

export function errorBox(e) {
  const msg = e && e.doc && e.doc.error ? `${e.status} ${e.doc.error.code}: ${e.doc.error.message}` +
    (e.doc.error.hint ? `\n${e.doc.error.hint}` : '') : String(e && e.message || e);
  return h('p', { class: 'error', role: 'alert' }, msg);
}
