"""Driver of bench/mcp_http.sh: `/mcp` tools/call vs POST /v1/decisions on one server.

Usage: mcp_http.py BASE_URL TOKEN PROJECT CALLS. Each client holds one keep-alive HTTP
connection; an MCP client first opens its session (initialize, notifications/initialized).
Every call is the same request, `cargo test && git status` as a shell command in PROJECT
(`check_command` over MCP; `{"action_type": "execute_command", ...}` over REST). Rounds
alternate REST and MCP. Prints one JSON object with p50/p99 in ms per path and concurrency.
"""

import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

COMMAND = "cargo test && git status"


def connect(base):
    u = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120)


def answer(resp):
    """The JSON-RPC message of a /mcp response (a JSON body or an event stream)."""
    body = resp.read().decode()
    if resp.getheader("Content-Type", "").startswith("application/json"):
        return json.loads(body) if body else None
    for line in body.splitlines():
        if line.startswith("data:") and line[5:].strip():
            msg = json.loads(line[5:])
            if "id" in msg:
                return msg
    return None


class Mcp:
    def __init__(self, base, token):
        self.c = connect(base)
        self.h = {"Authorization": "Bearer " + token, "Content-Type": "application/json",
                  "Accept": "application/json, text/event-stream"}
        r = self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"}}})
        assert r["result"]["serverInfo"]["name"] == "cavra", r
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def post(self, msg):
        self.c.request("POST", "/mcp", json.dumps(msg), self.h)
        resp = self.c.getresponse()
        sid = resp.getheader("Mcp-Session-Id")
        if sid:
            self.h["Mcp-Session-Id"] = sid
            self.h["MCP-Protocol-Version"] = "2025-06-18"
        assert resp.status in (200, 202), (resp.status, resp.read())
        return answer(resp)

    def call(self, i):
        r = self.post({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
            "name": "check_command", "arguments": {"command": COMMAND}}})
        assert r["result"]["structuredContent"]["decision"] == "allow", r


class Rest:
    def __init__(self, base, token, project):
        self.c = connect(base)
        self.h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        self.body = json.dumps({"action_type": "execute_command", "target": COMMAND,
                                "cwd": project, "agent_id": "bench", "session_id": "bench"})

    def call(self, i):
        self.c.request("POST", "/v1/decisions", self.body, self.h)
        resp = self.c.getresponse()
        d = json.loads(resp.read())
        assert resp.status == 200 and d["decision"] == "allow", d


def client(make, calls, out, ready, go):
    c = make()
    ready.release()
    go.wait()
    for i in range(calls):
        t = time.perf_counter()
        c.call(i + 1)
        out.append((time.perf_counter() - t) * 1000.0)


def run(make, conc, calls):
    lat, ts = [], []
    ready, go = threading.Semaphore(0), threading.Event()
    for _ in range(conc):
        t = threading.Thread(target=client, args=(make, calls, lat, ready, go))
        t.start()
        ts.append(t)
    for _ in range(conc):
        ready.acquire()
    go.set()
    for t in ts:
        t.join()
    q = statistics.quantiles(lat, n=100)
    return {"p50": round(statistics.median(lat), 3), "p99": round(q[98], 3), "calls": len(lat)}


def main():
    base, token, project, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    out = {}
    for conc in (1, 16):
        rest = run(lambda: Rest(base, token, project), conc, calls)
        mcp = run(lambda: Mcp(base, token), conc, calls)
        out["c%d" % conc] = {
            "rest": {k: rest[k] for k in ("p50", "p99")},
            "mcp": {k: mcp[k] for k in ("p50", "p99")},
            "added_p50_ms": round(mcp["p50"] - rest["p50"], 3),
            "added_p99_ms": round(mcp["p99"] - rest["p99"], 3),
            "calls": mcp["calls"],
        }
    print(json.dumps(out, indent=1))


main()
