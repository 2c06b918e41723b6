// The console's calls to the server: the session cookie goes along by itself; every
// change sends the session's CSRF token (the server refuses it without).
export const session = { doc: null };

export class ApiError extends Error {
  constructor(status, doc) {
    super(doc && doc.error ? doc.error.message : `HTTP ${status}`);
    this.status = status; this.doc = doc;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    headers['Content-Type'] = 'application/json';
    if (session.doc) headers['X-CSRF-Token'] = session.doc.csrf_token;
  }
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch { doc = { text }; }
  if (!res.ok) throw new ApiError(res.status, doc);
  return doc;
}

export const get = (p) => api('GET', p);
export const post = (p, b) => api('POST', p, b === undefined ? {} : b);

export function may(what) { return !!(session.doc && session.doc.may && session.doc.may[what]); }

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
