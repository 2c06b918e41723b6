"""Driver of bench/mcp_proxy_http.sh: tools/call latency of a Streamable HTTP MCP server,
direct vs through `cavra mcp proxy --upstream URL`.

Usage: mcp_proxy_http.py CAVRA_BIN UPSTREAM_PY STATE_DIR CALLS. The fixture server in HTTP
mode (`upstream.py http`); each client session is a thread with one keep-alive connection
that POSTs `echo` calls (accepting JSON or SSE, as SDK clients do: the fixture answers
tools/call with an SSE stream). One proxy process serves every session. Prints one JSON
object with p50/p99 in ms per mode and concurrency, and the proxy's resident memory.
"""

import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse


def session(url, calls, out):
    u = urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port)
    sid = None

    def rpc(i, method, params):
        nonlocal sid
        body = json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if sid:
            h["Mcp-Session-Id"] = sid
        c.request("POST", u.path, body, h)
        r = c.getresponse()
        sid = r.getheader("Mcp-Session-Id") or sid
        text = r.read().decode()
        if r.getheader("Content-Type", "").startswith("text/event-stream"):
            msgs = [json.loads(l[6:]) for l in text.splitlines() if l.startswith("data: ")]
            return msgs[-1]
        return json.loads(text)

    rpc(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}})
    rpc(1, "tools/list", {})
    for i in range(calls):
        t = time.perf_counter()
        r = rpc(i + 2, "tools/call", {"name": "echo", "arguments": {"message": "m%d" % i}})
        out.append((time.perf_counter() - t) * 1000.0)
        if r.get("result", {}).get("isError") is not False:
            sys.exit("unexpected answer: %s" % json.dumps(r)[:500])
    c.close()


def run(url, conc, calls):
    lat, ts = [], []
    for _ in range(conc):
        t = threading.Thread(target=session, args=(url, calls, lat))
        t.start()
        ts.append(t)
    for t in ts:
        t.join()
    q = statistics.quantiles(lat, n=100)
    return {"p50": round(statistics.median(lat), 3), "p99": round(q[98], 3), "calls": len(lat)}


def line_with(p, needle):
    while True:
        line = p.stdout.readline()
        if not line:
            sys.exit("no `%s` line" % needle)
        if needle in line:
            return line


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    cavra, upstream, state, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    env = dict(os.environ, CAVRA_DIR=state)
    up = subprocess.Popen(["python3", upstream, "http"], stdout=subprocess.PIPE, text=True, env=env)
    port = line_with(up, "PORT ").split()[1]
    direct = "http://127.0.0.1:%s/mcp" % port
    px = subprocess.Popen([cavra, "mcp", "proxy", "--name", "bench", "--upstream", direct, "--listen", "127.0.0.1:0"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    proxied = next(w for w in line_with(px, "listening on").split() if w.startswith("http://"))
    out = {}
    try:
        for conc in (1, 16):
            d = run(direct, conc, calls)
            p = run(proxied, conc, calls)
            out["c%d" % conc] = {
                "direct": {k: d[k] for k in ("p50", "p99")},
                "proxy": {k: p[k] for k in ("p50", "p99")},
                "added_p50_ms": round(p["p50"] - d["p50"], 3),
                "added_p99_ms": round(p["p99"] - d["p99"], 3),
                "proxy_rss_kib": rss(px.pid),
            }
    finally:
        px.kill()
        up.kill()
    print(json.dumps(out, indent=1))


main()
