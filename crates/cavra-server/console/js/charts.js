// A few SVG charts of our own (no library): stacked bars over time, horizontal bars, a line.
import { h, s } from './dom.js';

export const OUTCOMES = ['allow', 'block', 'require_approval', 'shadow', 'break_glass'];

export function legend(keys) {
  return h('div', { class: 'legend' }, keys.map(k => h('span', {}, h('i', { class: `f-${k}` }), k.replace('_', ' '))));
}

// Stacked bars: one per bucket, a segment per key.
export function stacked(buckets, keys, { width = 800, height = 220, label = 'bucket' } = {}) {
  const pad = { l: 40, r: 8, t: 8, b: 22 };
  const max = Math.max(1, ...buckets.map(b => keys.reduce((a, k) => a + (b[k] || 0), 0)));
  const iw = width - pad.l - pad.r, ih = height - pad.t - pad.b;
  const bw = buckets.length ? iw / buckets.length : iw;
  const g = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `decisions per ${label}` });
  g.append(s('line', { class: 'axis', x1: pad.l, y1: pad.t + ih, x2: width - pad.r, y2: pad.t + ih }));
  g.append(s('text', { x: pad.l - 4, y: pad.t + 10, 'text-anchor': 'end' }, String(max)));
  g.append(s('text', { x: pad.l - 4, y: pad.t + ih, 'text-anchor': 'end' }, '0'));
  buckets.forEach((b, i) => {
    let y = pad.t + ih;
    for (const k of keys) {
      const v = b[k] || 0; if (!v) continue;
      const hgt = (v / max) * ih; y -= hgt;
      g.append(s('rect', { class: `f-${k}`, x: pad.l + i * bw + 1, y, width: Math.max(1, bw - 2), height: hgt },
        s('title', {}, `${b.label || ''} ${k}: ${v}`)));
    }
  });
  const step = Math.max(1, Math.ceil(buckets.length / 8));
  buckets.forEach((b, i) => {
    if (i % step) return;
    g.append(s('text', { x: pad.l + i * bw + bw / 2, y: height - 6, 'text-anchor': 'middle' }, b.short || ''));
  });
  return g;
}

// Horizontal bars of [name, count].
export function bars(items, { width = 380, row = 22, cls = 'f-accent' } = {}) {
  const max = Math.max(1, ...items.map(i => i[1]));
  const lw = 150, height = Math.max(row, items.length * row) + 4;
  const g = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img' });
  items.forEach(([name, n], i) => {
    const y = i * row + 2;
    g.append(s('text', { x: 0, y: y + 14 }, name.length > 24 ? name.slice(0, 23) + '…' : name));
    g.append(s('rect', { class: cls, x: lw, y: y + 3, height: row - 8, width: Math.max(1, (n / max) * (width - lw - 40)) }, s('title', {}, `${name}: ${n}`)));
    g.append(s('text', { x: lw + (n / max) * (width - lw - 40) + 4, y: y + 14 }, String(n)));
  });
  return g;
}

// A line over buckets of one key.
export function line(buckets, key, { width = 800, height = 120 } = {}) {
  const pad = { l: 40, r: 8, t: 8, b: 8 };
  const max = Math.max(1, ...buckets.map(b => b[key] || 0));
  const iw = width - pad.l - pad.r, ih = height - pad.t - pad.b;
  const pts = buckets.map((b, i) => `${pad.l + (buckets.length > 1 ? i * iw / (buckets.length - 1) : iw / 2)},${pad.t + ih - ((b[key] || 0) / max) * ih}`);
  const g = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${key} over time` });
  g.append(s('line', { class: 'axis', x1: pad.l, y1: pad.t + ih, x2: width - pad.r, y2: pad.t + ih }));
  g.append(s('text', { x: pad.l - 4, y: pad.t + 10, 'text-anchor': 'end' }, String(max)));
  g.append(s('polyline', { points: pts.join(' '), fill: 'none', class: `l-${key}`, stroke: 'currentColor', 'stroke-width': 2 }));
  return h('div', { class: `o-${key}` }, g);
}
