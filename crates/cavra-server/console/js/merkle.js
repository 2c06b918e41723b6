// RFC 6962 / 9162 inclusion proofs, checked in the browser with WebCrypto's SHA-256:
// leaf = SHA-256(0x00 ‖ line), node = SHA-256(0x01 ‖ left ‖ right).
const enc = new TextEncoder();

function hex(buf) { return [...new Uint8Array(buf)].map(b => b.toString(16).padStart(2, '0')).join(''); }
function unhex(s) { const b = new Uint8Array(s.length / 2); for (let i = 0; i < b.length; i++) b[i] = parseInt(s.substr(i * 2, 2), 16); return b; }
async function sha(parts) {
  const n = parts.reduce((a, p) => a + p.length, 0); const all = new Uint8Array(n); let o = 0;
  for (const p of parts) { all.set(p, o); o += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', all));
}

export async function leafHash(line) { return hex(await sha([Uint8Array.of(0), enc.encode(line)])); }

// The root the audit path leads to from leaf `index` of a tree of `size` leaves (RFC 9162 2.1.3.2).
export async function rootFromPath(leafHex, index, size, path) {
  if (index >= size) return null;
  let fn = BigInt(index), sn = BigInt(size) - 1n;
  let r = unhex(leafHex);
  for (const p of path) {
    const c = unhex(p);
    if (sn === 0n) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await sha([Uint8Array.of(1), c, r]);
      if ((fn & 1n) === 0n) { while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; } }
    } else {
      r = await sha([Uint8Array.of(1), r, c]);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n ? hex(r) : null;
}

// What the browser checked of a proof: the leaf hash and the path to the checkpoint root.
export async function checkInBrowser(p) {
  const leaf = await leafHash(p.record_line);
  const root = await rootFromPath(leaf, p.leaf_index, p.tree_size, p.audit_path);
  return {
    leafOk: leaf === p.leaf_hash,
    rootOk: root !== null && root === p.checkpoint.root_hash,
    leaf, root,
  };
}
