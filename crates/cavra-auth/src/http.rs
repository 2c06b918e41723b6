//! The HTTP fetches: a blocking GET, and the POST of a form (the console's authorization
//! code exchange), with a timeout and a body cap (`ureq`; `https://` over the one TLS
//! client, [`crate::tls`]: the system's roots, AWS-LC; see docs/auth.md).

use std::time::Duration;

use crate::error::AuthError;

/// The largest discovery or JWKS document read (bytes).
pub const MAX_BODY: u64 = 512 * 1024;

/// A client with `timeout`, following `redirects`; statuses other than 2xx are errors when
/// `status_as_error`.
fn agent(timeout: Duration, status_as_error: bool, redirects: u32) -> ureq::Agent {
    crate::tls::Roots::system().agent(timeout, status_as_error, redirects)
}

/// GET `url` and return its body as text; any status but 2xx is an error.
pub fn get(url: &str, timeout: Duration) -> Result<String, AuthError> {
    let fail = |detail: String| AuthError::Fetch {
        url: url.to_string(),
        detail,
    };
    let mut resp = agent(timeout, true, 3)
        .get(url)
        .call()
        .map_err(|e| fail(e.to_string()))?;
    resp.body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|e| fail(e.to_string()))
}

/// POST the form `fields` to `url` and return the body as text; any status but 2xx is an
/// error that carries (the start of) the answer, which names the issuer's reason.
pub fn post_form(
    url: &str,
    fields: &[(&str, &str)],
    timeout: Duration,
) -> Result<String, AuthError> {
    let fail = |detail: String| AuthError::Fetch {
        url: url.to_string(),
        detail,
    };
    let mut resp = agent(timeout, false, 0)
        .post(url)
        .header("Accept", "application/json")
        .send_form(fields.iter().copied())
        .map_err(|e| fail(e.to_string()))?;
    let status = resp.status();
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|e| fail(e.to_string()))?;
    if !status.is_success() {
        let head: String = body.chars().take(300).collect();
        return Err(fail(format!("HTTP {}: {head}", status.as_u16())));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_fetch_errors_naming_the_url() {
        // nothing listens on port 1 (plain or TLS): errors naming the URL, not panics
        for url in [
            "http://127.0.0.1:1/jwks",
            "https://127.0.0.1:1/jwks",
            "not a url",
        ] {
            let got = get(url, Duration::from_secs(2));
            assert!(
                matches!(&got, Err(AuthError::Fetch { url: u, .. }) if u == url),
                "{url}: {got:?}"
            );
        }
    }
}
