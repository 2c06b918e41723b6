//! A [`CiReport`] as text, JSON, SARIF 2.1.0 (GitHub code scanning, Azure DevOps, GitLab)
//! or JUnit XML (GitLab and Azure test reports).

use super::{CiError, CiReport, Class, Finding};
use serde_json::{json, Value};

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Junit,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, CiError> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            "junit" => Ok(Format::Junit),
            _ => Err(CiError::Format(s.to_string())),
        }
    }
}

impl CiReport {
    /// The report in `format` (ends in a newline).
    pub fn render(&self, format: Format) -> Result<String, CiError> {
        let json = |v: &Value| serde_json::to_string_pretty(v).map_err(CiError::Encode);
        Ok(match format {
            Format::Text => self.text(),
            Format::Json => json(&serde_json::to_value(self).map_err(CiError::Encode)?)? + "\n",
            Format::Sarif => json(&self.sarif())? + "\n",
            Format::Junit => self.junit(),
        })
    }

    /// The human text: one line per finding, then the verdict.
    pub fn text(&self) -> String {
        let mut t = format!(
            "cavra ci check {}..{} under {} {} ({}) from {}\n",
            short(&self.base),
            short(&self.head),
            self.policy.id,
            self.policy.version,
            short(&self.policy.digest),
            self.policy_source
        );
        for f in &self.findings {
            let tag = if f.fails { "FAIL" } else { "note" };
            t += &format!(
                "{tag} {} {} [{}] {}: {}\n",
                f.class.as_str(),
                location(f),
                f.decision,
                f.rule_id,
                f.message
            );
            if let Some(c) = &f.command {
                t += &format!(
                    "       command: {}\n",
                    c.replace('\n', "\n                ")
                );
            }
            if let Some(a) = &f.alternative {
                t += &format!("       instead: {a}\n");
            }
        }
        if let Some(a) = &self.attestation {
            if a.ok {
                t += &format!(
                    "attestation: verified bundle `{}` (session {}, {} decisions, {} signatures) against {}\n",
                    a.bundle.as_deref().unwrap_or(""),
                    a.session_id.as_deref().unwrap_or("?"),
                    a.decisions,
                    a.signatures_verified,
                    a.trust.as_deref().unwrap_or("")
                );
            }
        }
        let failing = self.findings.iter().filter(|f| f.fails).count();
        t += &format!(
            "{}: {} changed paths, {} added lines scanned, {} commands checked, {} findings ({} failing)\n",
            if self.passed { "PASSED" } else { "FAILED" },
            self.changed,
            self.lines_scanned,
            self.commands_checked,
            self.findings.len(),
            failing
        );
        t
    }

    /// SARIF 2.1.0: one run, the rules that produced findings, one result per finding.
    pub fn sarif(&self) -> Value {
        let mut rules: Vec<&Finding> = Vec::new();
        for f in &self.findings {
            if !rules.iter().any(|r| r.rule_id == f.rule_id) {
                rules.push(f);
            }
        }
        let rule_index = |id: &str| rules.iter().position(|r| r.rule_id == id).unwrap_or(0);
        let results: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                let mut r = json!({
                    "ruleId": f.rule_id,
                    "ruleIndex": rule_index(&f.rule_id),
                    "level": level(f),
                    "message": {"text": message(f)},
                    "properties": {"class": f.class.as_str(), "decision": f.decision, "severity": f.severity.as_str()},
                });
                if let Some(p) = &f.path {
                    let mut loc = json!({"artifactLocation": {"uri": uri(p), "uriBaseId": "%SRCROOT%"}});
                    if let Some(l) = f.line.filter(|l| *l > 0) {
                        loc["region"] = json!({"startLine": l});
                    }
                    r["locations"] = json!([{"physicalLocation": loc}]);
                }
                r
            })
            .collect();
        let rules: Vec<Value> = rules
            .iter()
            .map(|f| {
                json!({
                    "id": f.rule_id,
                    "name": f.rule_id,
                    "shortDescription": {"text": format!("CAVRA {} rule {}", f.class.as_str(), f.rule_id)},
                    "defaultConfiguration": {"level": level(f)},
                    "properties": {"security-severity": security_severity(f.severity), "tags": ["security", "cavra"]},
                })
            })
            .collect();
        json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "CAVRA",
                    "informationUri": "https://cavra.dev",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }},
                "automationDetails": {"id": "cavra-ci-check/"},
                "versionControlProvenance": [{"repositoryUri": "file:///", "revisionId": self.head}],
                "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///"}},
                "properties": {
                    "base": self.base, "passed": self.passed,
                    "policy": {"id": self.policy.id, "version": self.policy.version, "digest": self.policy.digest},
                },
                "results": results,
            }],
        })
    }

    /// JUnit XML: one test case per item checked (a path against the file rules, a file's
    /// added lines for secrets, a file's commands), failed by its findings; the attestation
    /// is one more case when required.
    pub fn junit(&self) -> String {
        let mut cases = String::new();
        let mut failures = 0usize;
        let mut count = 0usize;
        let mut case = |class: Class, name: &str, found: Vec<&Finding>| {
            count = count.saturating_add(1);
            let failing: Vec<&&Finding> = found.iter().filter(|f| f.fails).collect();
            let mut c = format!(
                "    <testcase classname=\"cavra.ci.{}\" name=\"{}\">\n",
                class.as_str(),
                xml(name)
            );
            if !failing.is_empty() {
                failures = failures.saturating_add(1);
                let first = failing.first().map(|f| message(f)).unwrap_or_default();
                let body: Vec<String> = failing
                    .iter()
                    .map(|f| format!("{} {}: {}", location(f), f.rule_id, message(f)))
                    .collect();
                c += &format!(
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                    xml(&failing
                        .first()
                        .map(|f| f.rule_id.clone())
                        .unwrap_or_default()),
                    xml(&first),
                    xml(&body.join("\n"))
                );
            }
            for f in found.iter().filter(|f| !f.fails) {
                c += &format!(
                    "      <system-out>shadow: {} {}</system-out>\n",
                    xml(&f.rule_id),
                    xml(&message(f))
                );
            }
            cases += &c;
            cases += "    </testcase>\n";
        };
        for item in &self.checked {
            let found = self
                .findings
                .iter()
                .filter(|f| f.class == item.class && f.path.as_deref() == Some(item.path.as_str()))
                .collect();
            case(item.class, &item.path, found);
        }
        if self.attestation.is_some() {
            let found = self
                .findings
                .iter()
                .filter(|f| f.class == Class::Attestation)
                .collect();
            case(Class::Attestation, "session evidence", found);
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cavra ci check\" tests=\"{count}\" failures=\"{failures}\">\n  <testsuite name=\"cavra ci check {}..{}\" tests=\"{count}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n{cases}  </testsuite>\n</testsuites>\n",
            short(&self.base),
            short(&self.head)
        )
    }
}

fn short(s: &str) -> String {
    s.chars().take(12).collect()
}

fn location(f: &Finding) -> String {
    match (&f.path, f.line) {
        (Some(p), Some(l)) => format!("{p}:{l}"),
        (Some(p), None) => p.clone(),
        _ => "-".into(),
    }
}

fn message(f: &Finding) -> String {
    let mut m = f.message.clone();
    if let Some(c) = &f.command {
        m += &format!(" — command: `{c}`");
    }
    if let Some(a) = &f.alternative {
        m += &format!(" — instead: {a}");
    }
    m
}

fn level(f: &Finding) -> &'static str {
    if !f.fails {
        "note"
    } else if f.decision == "require_approval" {
        "warning"
    } else {
        "error"
    }
}

/// GitHub's `security-severity` score of a severity.
fn security_severity(s: cavra_core::Severity) -> &'static str {
    match s {
        cavra_core::Severity::Critical => "9.5",
        cavra_core::Severity::High => "8.0",
        cavra_core::Severity::Medium => "5.5",
        cavra_core::Severity::Low => "3.0",
    }
}

/// A repository path as a relative URI reference (percent-encoding what a URI cannot hold).
fn uri(p: &str) -> String {
    let mut out = String::new();
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

/// Text escaped for XML attributes and content (characters XML 1.0 cannot hold dropped).
fn xml(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&apos;",
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(uri("dir/a b#.sh"), "dir/a%20b%23.sh");
        assert!(Format::parse("xml").is_err());
        assert_eq!(Format::parse("sarif").unwrap(), Format::Sarif);
    }
}
