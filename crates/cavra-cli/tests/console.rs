//! The web console of `cavra serve`, over HTTP without a browser (console_e2e.rs drives
//! Chromium): the embedded page and assets (content types, ETags, the CSP and the other
//! security headers, page routes answering index.html), token sign-in (the cookie's
//! flags, agents refused), the session cookie on `/v1` (reads; a mutation without the
//! CSRF token refused, with it checked by role like a bearer token), sign-out, a revoked
//! token ending its sessions, and the proof check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "server_common.rs"]
mod server_common;

use serde_json::{json, Value};
use server_common::{agent, get, post, Srv};

/// An answer: status, headers, body text.
struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// `method url` with `headers` and an optional JSON body.
fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Answer {
    let a = agent();
    let mut res = match method {
        "GET" => {
            let mut r = a.get(url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call().unwrap()
        }
        "DELETE" => {
            let mut r = a.delete(url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call().unwrap()
        }
        _ => {
            let mut r = a.post(url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.content_type("application/json")
                .send(body.map(Value::to_string).unwrap_or_default())
                .unwrap()
        }
    };
    Answer {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// Signs in with `token`: the session cookie (`name=value`) and the session document.
fn sign_in(s: &Srv, token: &str) -> (String, Value) {
    let a = send(
        "POST",
        &s.url("/console/session"),
        &[],
        Some(&json!({"token": token})),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let set = a.header("set-cookie");
    let cookie = set.split(';').next().unwrap().to_string();
    assert!(cookie.starts_with("cavra_session=cavra-web.v1."), "{set}");
    (cookie, a.json())
}

#[test]
fn the_page_and_its_assets_are_embedded_with_strict_headers() {
    let s = Srv::start(&[], &[]);
    let page = send("GET", &s.url("/"), &[], None);
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert!(page.body.contains("/assets/js/app.js"), "{}", page.body);
    let csp = page.header("content-security-policy");
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    // every page route is the page; the API's answers carry the headers too
    for route in [
        "/decisions",
        "/decisions/d-1",
        "/approvals/apr-1",
        "/posture",
        "/signin",
    ] {
        let a = send("GET", &s.url(route), &[], None);
        assert_eq!(
            (a.status, a.body.as_str()),
            (200, page.body.as_str()),
            "{route}"
        );
    }
    let health = send("GET", &s.url("/health"), &[], None);
    assert_eq!(health.header("x-content-type-options"), "nosniff");
    // assets: content types, an ETag that revalidates to 304
    let mut total = page.body.len();
    for (path, mime) in [
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/js/app.js", "text/javascript; charset=utf-8"),
        ("/assets/js/live.js", "text/javascript; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let a = send("GET", &s.url(path), &[], None);
        assert_eq!(
            (a.status, a.header("content-type").as_str()),
            (200, mime),
            "{path}"
        );
        assert_eq!(a.header("cache-control"), "no-cache");
        let etag = a.header("etag");
        assert!(etag.starts_with('"'), "{path}: {etag}");
        let again = send("GET", &s.url(path), &[("If-None-Match", &etag)], None);
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
        total += a.body.len();
    }
    assert!(total < 200 * 1024, "{total} bytes");
    let missing = send("GET", &s.url("/assets/nope.js"), &[], None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "not_found");
    // the index is never an asset, and unknown routes stay JSON 404s
    assert_eq!(
        send("GET", &s.url("/assets/index.html"), &[], None).status,
        404
    );
    assert_eq!(send("GET", &s.url("/nowhere"), &[], None).status, 404);
}

#[test]
fn cookie_sessions_need_the_csrf_token_to_change_anything() {
    let s = Srv::start(&["--non-interactive"], &[]);
    let (bot, bob, auditor) = (
        s.token("bot", "agent"),
        s.token("bob", "approver"),
        s.token("audit", "auditor"),
    );
    // the agent is the adversary: its token never opens a console session
    let a = send(
        "POST",
        &s.url("/console/session"),
        &[],
        Some(&json!({"token": bot})),
    );
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.header("set-cookie").is_empty());
    let a = send(
        "POST",
        &s.url("/console/session"),
        &[],
        Some(&json!({"token": "cavra-api.v1.tok-x.00"})),
    );
    assert_eq!(a.status, 401, "{}", a.body);
    let a = send(
        "POST",
        &s.url("/console/session"),
        &[],
        Some(&json!({"secret": "x"})),
    );
    assert_eq!(a.status, 400, "{}", a.body);

    let set = send(
        "POST",
        &s.url("/console/session"),
        &[],
        Some(&json!({"token": bob})),
    )
    .header("set-cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let (cookie, doc) = sign_in(&s, &bob);
    assert_eq!(doc["identity"], "bob");
    assert_eq!(doc["roles"], json!(["approver"]));
    assert_eq!(doc["may"]["approve"], true);
    assert_eq!(doc["may"]["break_glass"], false);
    let csrf = doc["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(csrf.len(), 64);
    let me = send(
        "GET",
        &s.url("/console/session"),
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["csrf_token"], csrf.as_str());
    assert_eq!(
        send("GET", &s.url("/console/session"), &[], None).status,
        401
    );

    // a pending request, held for a person
    let cwd = s.project.display().to_string();
    let req = json!({"action_type": "write_file", "target": "/work/elsewhere/cavra-console-1.txt",
        "cwd": cwd, "agent_id": "ci-agent", "session_id": "cs1"});
    let (st, v) = post(&s, "/v1/decisions", Some(&bot), &req);
    assert_eq!(st, 200, "{v}");
    let id = v["approval_id"].as_str().unwrap().to_string();
    assert_eq!(
        v["approval_url"],
        format!("{}/approvals/{id}", s.base).as_str(),
        "{v}"
    );

    // reads with the cookie
    let list = send(
        "GET",
        &s.url("/v1/approvals?status=pending"),
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json().as_array().unwrap().len(), 1);
    // a mutation without the CSRF token, or with another, is refused and changes nothing
    let approve = s.url(&format!("/v1/approvals/{id}/approve"));
    let body = json!({"reason": "looks fine"});
    let a = send("POST", &approve, &[("Cookie", &cookie)], Some(&body));
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "csrf");
    let a = send(
        "POST",
        &approve,
        &[("Cookie", &cookie), ("X-CSRF-Token", &"0".repeat(64))],
        Some(&body),
    );
    assert_eq!(
        (a.status, a.json()["error"]["code"].clone()),
        (403, json!("csrf"))
    );
    let (_, one) = get(&s, &format!("/v1/approvals/{id}"), Some(&auditor));
    assert_eq!(one["state"], "pending");
    // an auditor's session has the token, and the role check refuses it
    let (acookie, adoc) = sign_in(&s, &auditor);
    assert_eq!(adoc["may"]["approve"], false);
    let at = adoc["csrf_token"].as_str().unwrap();
    let a = send(
        "POST",
        &approve,
        &[("Cookie", &acookie), ("X-CSRF-Token", at)],
        Some(&body),
    );
    assert_eq!(
        (a.status, a.json()["error"]["code"].clone()),
        (403, json!("forbidden")),
        "{}",
        a.body
    );
    // the approver's session with its token approves, as bob
    let a = send(
        "POST",
        &approve,
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        Some(&body),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, one) = get(&s, &format!("/v1/approvals/{id}"), Some(&auditor));
    assert_eq!(
        (one["state"].as_str(), one["decided_by"].as_str()),
        (Some("approved"), Some("bob")),
        "{one}"
    );
    // bearer clients are unaffected: no CSRF token needed
    let (st, _) = post(&s, "/v1/decisions", Some(&bot), &req);
    assert_eq!(st, 200);

    // sign-out needs the token too, then the cookie is dead
    let out = s.url("/console/session");
    assert_eq!(
        send("DELETE", &out, &[("Cookie", &cookie)], None).status,
        403
    );
    let a = send(
        "DELETE",
        &out,
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.header("set-cookie").contains("Max-Age=0"));
    let a = send("GET", &s.url("/v1/approvals"), &[("Cookie", &cookie)], None);
    assert_eq!(a.status, 401, "{}", a.body);

    // revoking the token ends the sessions opened with it
    let (bcookie, _) = sign_in(&s, &bob);
    let bob_id = send(
        "GET",
        &s.url("/console/session"),
        &[("Cookie", &bcookie)],
        None,
    )
    .json()["token_id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = server_common::cavra(&s.dir, &["tokens", "revoke", &bob_id]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let a = send(
        "GET",
        &s.url("/v1/approvals"),
        &[("Cookie", &bcookie)],
        None,
    );
    assert_eq!(a.status, 401, "{}", a.body);
}

#[test]
fn the_proof_check_names_what_it_checked() {
    let s = Srv::start(&[], &[]);
    let (bot, auditor) = (s.token("bot", "agent"), s.token("audit", "auditor"));
    let cwd = s.project.display().to_string();
    let req = json!({"action_type": "read_file", "target": ".env", "cwd": cwd});
    let (st, v) = post(&s, "/v1/decisions", Some(&bot), &req);
    assert_eq!((st, v["decision"].as_str()), (200, Some("block")), "{v}");
    let (_, page) = get(&s, "/v1/decisions?limit=1", Some(&auditor));
    let hit = &page["hits"][0];
    let record = hit["record_id"].as_str().unwrap();
    // the record names every matched rule with what exactly it matched
    let m = &hit["body"]["matches"][0];
    assert_eq!(m["rule_id"], "secrets.dotenv.read", "{hit}");
    assert!(m["reason"].as_str().is_some_and(|r| !r.is_empty()), "{m}");
    let (cookie, _) = sign_in(&s, &auditor);
    let a = send(
        "GET",
        &s.url(&format!("/console/proof/{record}")),
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let c = a.json();
    assert_eq!(c["ok"], true, "{c}");
    assert_eq!(c["proof"]["record_id"], record);
    assert_eq!(c["checked"].as_array().unwrap().len(), 4);
    assert!(c["keys"].as_str().is_some_and(|k| !k.is_empty()), "{c}");
    let (st, _) = get(&s, &format!("/console/proof/{record}"), Some(&bot));
    assert_eq!(st, 403, "agents do not read evidence");
    let (st, _) = get(&s, "/console/proof/ev-nope", Some(&auditor));
    assert_eq!(st, 404);
}
