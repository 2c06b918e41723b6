//! The control catalog posture reports coverage against: the OWASP Top 10 for LLM
//! applications (2025), the OWASP agentic AI threats (T1–T15), a subset of the NIST AI RMF
//! subcategories and the SOC 2 common criteria that bear on coding agents. Pack control
//! mappings name them by id (`OWASP-LLM06`, `OWASP-ASI-T02`, `NIST-AI-RMF-MG-2.4`,
//! `SOC2-CC8.1`); an id a pack maps that the catalog does not list is reported too, under
//! the framework its prefix names.

/// `(id, title)` of every catalog control, per framework.
pub const FRAMEWORKS: &[(&str, &[(&str, &str)])] = &[
    (
        "OWASP LLM Top 10",
        &[
            ("OWASP-LLM01", "Prompt injection"),
            ("OWASP-LLM02", "Sensitive information disclosure"),
            ("OWASP-LLM03", "Supply chain"),
            ("OWASP-LLM04", "Data and model poisoning"),
            ("OWASP-LLM05", "Improper output handling"),
            ("OWASP-LLM06", "Excessive agency"),
            ("OWASP-LLM07", "System prompt leakage"),
            ("OWASP-LLM08", "Vector and embedding weaknesses"),
            ("OWASP-LLM09", "Misinformation"),
            ("OWASP-LLM10", "Unbounded consumption"),
        ],
    ),
    (
        "OWASP Agentic AI threats",
        &[
            ("OWASP-ASI-T01", "Memory poisoning"),
            ("OWASP-ASI-T02", "Tool misuse"),
            ("OWASP-ASI-T03", "Privilege compromise"),
            ("OWASP-ASI-T04", "Resource overload"),
            ("OWASP-ASI-T05", "Cascading hallucination attacks"),
            ("OWASP-ASI-T06", "Intent breaking and goal manipulation"),
            ("OWASP-ASI-T07", "Misaligned and deceptive behaviours"),
            ("OWASP-ASI-T08", "Repudiation and untraceability"),
            ("OWASP-ASI-T09", "Identity spoofing and impersonation"),
            ("OWASP-ASI-T10", "Overwhelming the human in the loop"),
            (
                "OWASP-ASI-T11",
                "Unexpected remote code execution and code attacks",
            ),
            ("OWASP-ASI-T12", "Agent communication poisoning"),
            ("OWASP-ASI-T13", "Rogue agents in multi-agent systems"),
            ("OWASP-ASI-T14", "Human attacks on multi-agent systems"),
            ("OWASP-ASI-T15", "Human manipulation"),
        ],
    ),
    (
        "NIST AI RMF",
        &[
            (
                "NIST-AI-RMF-GV-1.4",
                "Risk management process established through transparent policies and controls",
            ),
            (
                "NIST-AI-RMF-GV-6.1",
                "Policies address risks of third-party software and data",
            ),
            (
                "NIST-AI-RMF-MP-4.1",
                "Legal and technology risks of AI components mapped, including third-party ones",
            ),
            (
                "NIST-AI-RMF-MS-2.7",
                "AI system security and resilience evaluated and documented",
            ),
            (
                "NIST-AI-RMF-MS-2.10",
                "Privacy risk examined and documented",
            ),
            (
                "NIST-AI-RMF-MG-2.4",
                "Mechanisms to supersede, disengage or deactivate the AI system",
            ),
            (
                "NIST-AI-RMF-MG-4.1",
                "Post-deployment monitoring, including appeal and override",
            ),
        ],
    ),
    (
        "SOC 2",
        &[
            (
                "SOC2-CC6.1",
                "Logical access security over protected information assets",
            ),
            (
                "SOC2-CC6.2",
                "Access is provisioned and removed under authorisation",
            ),
            (
                "SOC2-CC6.6",
                "Protection against threats from outside the system boundary",
            ),
            (
                "SOC2-CC6.7",
                "Transmission and movement of information is restricted",
            ),
            (
                "SOC2-CC6.8",
                "Unauthorised or malicious software is prevented or detected",
            ),
            (
                "SOC2-CC7.1",
                "Configuration changes and vulnerabilities are detected",
            ),
            (
                "SOC2-CC7.2",
                "System components are monitored for anomalies",
            ),
            (
                "SOC2-CC8.1",
                "Changes are authorised, tested, approved and implemented",
            ),
        ],
    ),
];

/// The framework a control id belongs to, by its prefix (`NIST-SSDF-PS.1` → `NIST-SSDF`).
pub fn framework_of(id: &str) -> String {
    const PREFIXES: &[(&str, &str)] = &[
        ("OWASP-LLM", "OWASP LLM Top 10"),
        ("OWASP-ASI-", "OWASP Agentic AI threats"),
        ("NIST-AI-RMF-", "NIST AI RMF"),
        ("SOC2-", "SOC 2"),
    ];
    if let Some((_, name)) = PREFIXES.iter().find(|(p, _)| id.starts_with(p)) {
        return (*name).to_string();
    }
    let parts: Vec<&str> = id.split('-').collect();
    match parts.as_slice() {
        [a, b, _, ..] => format!("{a}-{b}"),
        [a, ..] => (*a).to_string(),
        [] => String::new(),
    }
}

/// The catalog title of `id`, if it has one.
pub fn title_of(id: &str) -> Option<&'static str> {
    FRAMEWORKS
        .iter()
        .flat_map(|(_, c)| c.iter())
        .find(|(c, _)| *c == id)
        .map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_find_their_framework() {
        assert_eq!(framework_of("OWASP-LLM06"), "OWASP LLM Top 10");
        assert_eq!(framework_of("OWASP-ASI-T09"), "OWASP Agentic AI threats");
        assert_eq!(framework_of("NIST-AI-RMF-MG-2.4"), "NIST AI RMF");
        assert_eq!(framework_of("SOC2-CC8.1"), "SOC 2");
        assert_eq!(framework_of("NIST-SSDF-PS.1"), "NIST-SSDF");
        assert_eq!(framework_of("HIPAA-164.312-b"), "HIPAA-164.312");
        assert_eq!(title_of("OWASP-LLM06"), Some("Excessive agency"));
        assert_eq!(title_of("SOC2-CC9.9"), None);
    }
}
