//! The console's files, embedded in the binary (no CDN: it works offline and air-gapped):
//! `console/index.html` for `/` and every page route, `console/app.css` and the JS modules
//! under `/assets/`. Each answer carries an ETag (FNV-1a of the bytes, computed at build
//! time) and `Cache-Control: no-cache`, so a browser revalidates and gets a 304.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub struct Asset {
    /// The name under `/assets/` (`index.html` is served at `/`).
    pub name: &'static str,
    pub mime: &'static str,
    pub body: &'static [u8],
    /// FNV-1a 64 of `body`.
    pub hash: u64,
}

/// FNV-1a 64 (an ETag: a change of the bytes changes it; no secret).
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

macro_rules! asset {
    ($name:literal, $mime:expr) => {
        Asset {
            name: $name,
            mime: $mime,
            body: include_bytes!(concat!("../../console/", $name)),
            hash: fnv1a(include_bytes!(concat!("../../console/", $name))),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console.
pub static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/charts.js", JS),
    asset!("js/live.js", JS),
    asset!("js/detail.js", JS),
    asset!("js/approvals.js", JS),
    asset!("js/registries.js", JS),
    asset!("js/policies.js", JS),
    asset!("js/posture.js", JS),
    asset!("js/rollouts.js", JS),
    asset!("js/merkle.js", JS),
];

/// The asset named `name`.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// `a` as an answer: 304 when the request's `If-None-Match` names its ETag.
pub fn serve(a: &Asset, req: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", a.hash);
    let fresh = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, a.mime)], a.body).into_response()
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// `GET /` and every page route: `index.html` (the page reads its route from the URL).
pub async fn index(req: HeaderMap) -> Response {
    match find("index.html") {
        Some(a) => serve(a, &req),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /assets/{*path}`.
pub async fn asset(Path(path): Path<String>, req: HeaderMap) -> Response {
    match find(&path).filter(|a| a.name != "index.html") {
        Some(a) => serve(a, &req),
        None => crate::error::ApiError::not_found(format!(
            "no console asset `{}`",
            path.escape_default()
        ))
        .into_response(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_there_and_small() {
        let total: usize = ASSETS.iter().map(|a| a.body.len()).sum();
        assert!(total < 200 * 1024, "the console is {total} bytes");
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{}", a.name);
            assert_eq!(a.hash, fnv1a(a.body));
        }
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }

    #[test]
    fn no_inline_script_or_style() {
        // the CSP forbids them: they would not run
        let html = std::str::from_utf8(find("index.html").unwrap().body).unwrap();
        assert!(!html.contains("<script>"), "inline script");
        assert!(!html.contains("style="), "inline style");
        assert!(!html.contains("<style"), "inline style");
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let js = std::str::from_utf8(a.body).unwrap();
            for bad in [
                "eval(",
                "new Function",
                "innerHTML",
                ".style.cssText",
                "setAttribute('style'",
            ] {
                assert!(!js.contains(bad), "{} uses {bad}", a.name);
            }
        }
    }

    #[test]
    fn etags_revalidate() {
        let a = find("app.css").unwrap();
        let res = serve(a, &HeaderMap::new());
        assert_eq!(res.status(), StatusCode::OK);
        let etag = res.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(serve(a, &h).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
    }
}
