//! The network guard: a URL's scheme and host by the network rules.

use super::Collector;
use crate::policy::compile::{CompiledPack, Matcher};

/// A request to `url` (`via`: the command that makes it), by the network rules.
pub(super) fn request(pack: &CompiledPack, url: &str, via: Option<&str>, c: &mut Collector) {
    if c.family == "engine" {
        c.family = "network";
    }
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = host_port.rsplit('@').next().unwrap_or(host_port);
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('[')
    } else {
        host_port.split(':').next().unwrap_or("")
    }
    .to_ascii_lowercase();
    for r in &pack.rules {
        if let Matcher::Network(m) = &r.matcher {
            let host_hit = m.hosts.is_empty() || m.hosts.iter().any(|g| g.matches(&host));
            let scheme_hit =
                m.schemes.is_empty() || m.schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme));
            if host_hit && scheme_hit {
                let matched = match via {
                    Some(v) => format!("{v} contacts `{host}`"),
                    None => format!("request to `{host}`"),
                };
                c.push(r, Some(matched), url);
            }
        }
    }
    if c.scope.is_none() {
        c.scope = Some(format!("network request to `{host}`"));
    }
}
