"""Driver of bench/mcp_proxy.sh: tools/call latency direct vs through `cavra mcp proxy`.

Usage: mcp_proxy.py CAVRA_BIN UPSTREAM_PY STATE_DIR CALLS. Sessions of raw JSON-RPC over
stdio; each call is `echo` (an argument with no path, command or URL in it, so the proxy
decides one MCP tool call). Prints one JSON object with p50/p99 in ms per mode and
concurrency, and the proxy's resident memory per session.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time


def session(cmd, env, calls, out, rss):
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)

    def rpc(i, method, params):
        p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}) + "\n")
        p.stdin.flush()
        return json.loads(p.stdout.readline())

    rpc(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}})
    rpc(1, "tools/list", {})
    for i in range(calls):
        t = time.perf_counter()
        r = rpc(i + 2, "tools/call", {"name": "echo", "arguments": {"message": "m%d" % i}})
        out.append((time.perf_counter() - t) * 1000.0)
        assert r["result"]["isError"] is False, r
    with open("/proc/%d/status" % p.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss.append(int(line.split()[1]))
    p.stdin.close()
    p.wait()


def run(cmd, env, conc, calls):
    lat, rss, ts = [], [], []
    for _ in range(conc):
        t = threading.Thread(target=session, args=(cmd, env, calls, lat, rss))
        t.start()
        ts.append(t)
    for t in ts:
        t.join()
    lat.sort()
    q = statistics.quantiles(lat, n=100)
    return {"p50": round(statistics.median(lat), 3), "p99": round(q[98], 3), "calls": len(lat), "rss_kib": rss}


def main():
    cavra, upstream, state, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    env = dict(os.environ, CAVRA_DIR=state)
    direct = ["python3", upstream]
    proxied = [cavra, "mcp", "proxy", "--name", "bench", "--"] + direct
    out = {}
    for conc in (1, 16):
        d = run(direct, env, conc, calls)
        p = run(proxied, env, conc, calls)
        out["c%d" % conc] = {
            "direct": {k: d[k] for k in ("p50", "p99")},
            "proxy": {k: p[k] for k in ("p50", "p99")},
            "added_p50_ms": round(p["p50"] - d["p50"], 3),
            "added_p99_ms": round(p["p99"] - d["p99"], 3),
            "proxy_rss_kib_median": statistics.median(p["rss_kib"]),
            "direct_rss_kib_median": statistics.median(d["rss_kib"]),
        }
    print(json.dumps(out, indent=1))


main()
