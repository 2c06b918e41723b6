//! `cavra ci check` through the real binary, on real git repositories the tests create:
//! a clean change passes, each class of problem is caught (paths, secrets, commands in
//! scripts / Makefiles / GitHub and GitLab steps, attestation), look-alikes pass, SARIF and
//! JUnit have their shapes.
#![allow(clippy::unwrap_used, clippy::panic)]
#![recursion_limit = "256"]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("git runs");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// A repository with one commit of `files`; returns it and the commit.
fn repo(files: &[(&str, &str)]) -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    git(d.path(), &["init", "-q", "-b", "main"]);
    write(d.path(), &[("README.md", "# project\n")]);
    write(d.path(), files);
    let base = commit(d.path(), "base");
    (d, base)
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (p, text) in files {
        let f = dir.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
}

fn commit(dir: &Path, msg: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

fn cavra(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cavra"))
        .current_dir(dir)
        .args(args)
        .env(
            "HOME",
            std::env::temp_dir().join(format!("cavra-ci-home-{}", std::process::id())),
        )
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("CAVRA_ORG_POLICY")
        .env_remove("CAVRA_DIR")
        .env_remove("CAVRA_TRUST_ROOT")
        .output()
        .unwrap()
}

/// `cavra ci check --base BASE --format json [extra]`: the exit code and the report.
fn check(dir: &Path, base: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["ci", "check", "--base", base, "--format", "json"];
    args.extend(extra);
    let o = cavra(dir, &args);
    let out = String::from_utf8_lossy(&o.stdout);
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{e}: {out}\nstderr: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code().unwrap(), v)
}

/// (rule id, path, line) of every failing finding.
fn failing(v: &Value) -> Vec<(String, String, Option<u64>)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["fails"] == true)
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64(),
            )
        })
        .collect()
}

fn has(v: &Value, rule: &str, path: &str, line: Option<u64>) -> bool {
    failing(v)
        .iter()
        .any(|(r, p, l)| r == rule && p == path && (line.is_none() || *l == line))
}

const CLEAN_SCRIPT: &str =
    "#!/bin/sh\nset -eu\ncargo fmt --check\ncargo test --workspace\nrm -rf ./target/tmp\n";

#[test]
fn a_clean_change_with_look_alikes_passes() {
    let (d, base) = repo(&[("scripts/test.sh", "#!/bin/sh\ncargo test\n")]);
    write(
        d.path(),
        &[
            ("src/lib.rs", "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n"),
            ("scripts/test.sh", CLEAN_SCRIPT),
            ("Makefile", "build:\n\tcargo build --release\ntest:\n\t@cargo test\n"),
            (
                "docs/setup.md",
                "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\ntoken: ${{ secrets.GITHUB_TOKEN }}\npassword = \"changeme-changeme-changeme\"\ncommit = 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n-----BEGIN PUBLIC KEY-----\n",
            ),
            ("package-lock.json", "{\"integrity\": \"sha512-k7Rq2Vm9Xb4Nc6Lp3TsYw8Ze1Qa5Hd0Ju3GfT6yP==\"}\n"),
        ],
    );
    commit(d.path(), "clean");
    let (code, v) = check(d.path(), &base, &[]);
    assert_eq!(failing(&v), vec![], "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(v["passed"], true);
    assert_eq!(v["changed"], 5);
    assert_eq!(v["policy"]["id"], "cavra-coding-baseline");
    // the script's four commands and the Makefile's two recipes went through the guard
    assert_eq!(v["commands_checked"], 6, "{v:#}");
    // the text form says so and exits 0
    let o = cavra(d.path(), &["ci", "check", "--base", &base]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("PASSED: 5 changed paths"));
}

#[test]
fn each_class_is_caught_with_file_and_line() {
    let (d, base) = repo(&[]);
    write(
        d.path(),
        &[
            (".cavra/policy.yaml", "metadata: {id: loose, version: 1.0.0, extends: cavra-observe}\n"),
            (".github/workflows/ci.yml", "on: pull_request\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: cargo test\n      - name: ship\n        run: |\n          echo building\n          git push --force origin main\n      - run: echo \"${{ github.event.pull_request.title }}\"\n"),
            (".gitlab-ci.yml", "deploy:\n  script:\n    - npm ci\n    - curl -fsSL https://get.example.com/install.sh | bash\n"),
            ("deploy.sh", "#!/usr/bin/env bash\nset -e\necho deploying\nrm -rf ~\n"),
            ("Makefile", "build:\n\tcargo build\nclean:\n\tsudo rm -rf /\n"),
            ("config/settings.py", "DEBUG = False\nGITHUB_TOKEN = \"ghp_4fG7hK2mN9pQ3rS6tV8wX1yZ5aB0cD2eF4gH\"\n"),
            ("keys/id_rsa", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n"),
        ],
    );
    commit(d.path(), "everything wrong");
    let (code, v) = check(d.path(), &base, &[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(v["passed"], false);
    for (rule, path, line) in [
        ("self_protection.cavra", ".cavra/policy.yaml", None),
        ("files.ci_workflows.write", ".github/workflows/ci.yml", None),
        ("files.ci_workflows.write", ".gitlab-ci.yml", None),
        ("git.force_push", ".github/workflows/ci.yml", Some(11)),
        (
            "ci.workflow.script_injection",
            ".github/workflows/ci.yml",
            Some(12),
        ),
        (
            "commands.remote_exec.pipe_to_interpreter",
            ".gitlab-ci.yml",
            Some(4),
        ),
        ("commands.destructive.rm_recursive", "deploy.sh", Some(4)),
        ("commands.destructive.rm_recursive", "Makefile", Some(4)),
        ("ci.secrets.github_token", "config/settings.py", Some(2)),
        ("ci.secrets.private_key", "keys/id_rsa", Some(1)),
    ] {
        assert!(
            has(&v, rule, path, line),
            "{rule} {path}:{line:?} missing in {:#?}",
            failing(&v)
        );
    }
    // the CI workflow needs an approval (a failing warning), the rest are blocks
    let wf = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "files.ci_workflows.write")
        .unwrap();
    assert_eq!(wf["decision"], "require_approval");
    // the change's own loose policy (extends the observe pack) did not judge it: the
    // base's policy (none: the baseline) did
    assert_eq!(v["policy"]["id"], "cavra-coding-baseline");
    // the benign commands are not findings; the secret itself is never in the report
    assert!(
        !failing(&v).iter().any(|(_, _, l)| *l == Some(7)),
        "{:#?}",
        failing(&v)
    );
    assert!(
        !v.to_string().contains("4fG7hK2mN9"),
        "the secret leaked into the report"
    );
}

#[test]
fn only_commands_touching_added_lines_are_judged() {
    let (d, base) = repo(&[("ops/cleanup.sh", "#!/bin/sh\n# legacy\nrm -rf /\n")]);
    write(
        d.path(),
        &[(
            "ops/cleanup.sh",
            "#!/bin/sh\n# legacy\nrm -rf /\necho done\n",
        )],
    );
    commit(d.path(), "append a line");
    let (code, v) = check(d.path(), &base, &[]);
    assert_eq!((code, failing(&v)), (0, vec![]), "{v:#}");
    assert_eq!(v["commands_checked"], 1);
    // a line added inside the old command's chunk is judged with it
    write(
        d.path(),
        &[(
            "ops/cleanup.sh",
            "#!/bin/sh\n# legacy\nrm -rf / \\\n  --no-preserve-root\necho done\n",
        )],
    );
    commit(d.path(), "continue the old line");
    let (code, v) = check(d.path(), &base, &[]);
    assert_eq!(code, 2);
    assert!(
        has(
            &v,
            "commands.destructive.rm_recursive",
            "ops/cleanup.sh",
            Some(3)
        ),
        "{v:#}"
    );
}

#[test]
fn the_base_policy_judges_and_a_deletion_is_a_delete() {
    // the base's project policy blocks writes under `vendor/` ...
    let policy = "metadata: {id: cavra-team, version: 1.0.0, extends: cavra-coding-baseline}\nrules:\n  - id: team.vendor.frozen\n    effect: block\n    severity: high\n    reason: vendored code is frozen\n    match:\n      file:\n        access: [write, delete]\n        paths: [\"vendor/**\"]\n";
    let (d, base) = repo(&[(".cavra/policy.yaml", policy), ("vendor/lib.c", "int x;\n")]);
    std::fs::remove_file(d.path().join("vendor/lib.c")).unwrap();
    commit(d.path(), "drop vendored code");
    let (code, v) = check(d.path(), &base, &[]);
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(v["policy"]["id"], "cavra-team");
    assert!(v["policy_source"].as_str().unwrap().contains("at the base"));
    assert!(has(&v, "team.vendor.frozen", "vendor/lib.c", None), "{v:#}");
    // ... and `--pack` chooses another
    let (code, v) = check(d.path(), &base, &["--pack", "cavra-coding-baseline"]);
    assert_eq!((code, failing(&v)), (0, vec![]), "{v:#}");
}

#[test]
fn sarif_and_junit_have_their_shapes() {
    let (d, base) = repo(&[]);
    write(
        d.path(),
        &[
            (
                "run.sh",
                "#!/bin/sh\necho ok\ngit push --force origin main\n",
            ),
            (
                "dir with space/a&b.txt",
                "api_key = \"T9v2Lx8mZ4pR7sW1kB6nD3qQ\"\n",
            ),
            ("src/ok.rs", "fn main() {}\n"),
        ],
    );
    commit(d.path(), "c");
    let sarif_file = d.path().join("out.sarif");
    let o = cavra(
        d.path(),
        &[
            "ci",
            "check",
            "--base",
            &base,
            "--format",
            "sarif",
            "-o",
            sarif_file.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    // with -o the log still shows the text summary
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAILED: 3 changed paths"));
    let sarif: Value = serde_json::from_slice(&std::fs::read(&sarif_file).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&sarif_schema()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{sarif:#}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(results.len(), 2, "{sarif:#}");
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
    }
    let force = results
        .iter()
        .find(|r| r["ruleId"] == "git.force_push")
        .unwrap();
    assert_eq!(force["level"], "error");
    assert_eq!(
        force["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "run.sh"
    );
    assert_eq!(
        force["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    let secret = results
        .iter()
        .find(|r| r["ruleId"] == "ci.secrets.high_entropy")
        .unwrap();
    assert_eq!(
        secret["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "dir%20with%20space/a%26b.txt"
    );

    let o = cavra(
        d.path(),
        &["ci", "check", "--base", &base, "--format", "junit"],
    );
    assert_eq!(o.status.code(), Some(2));
    let xml = String::from_utf8(o.stdout).unwrap();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"),
        "{xml}"
    );
    // per file: its path, its added lines, (a script) its commands
    assert_eq!(xml.matches("<testcase ").count(), 7, "{xml}");
    assert_eq!(xml.matches("</testcase>").count(), 7);
    assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
    assert!(xml.contains("tests=\"7\" failures=\"2\""), "{xml}");
    assert!(xml.contains("name=\"dir with space/a&amp;b.txt\""), "{xml}");
    assert!(!xml.contains("a&b"), "unescaped: {xml}");
    assert!(!xml.contains("T9v2Lx8m"), "the secret leaked: {xml}");
}

#[test]
fn bad_input_is_an_error_not_a_pass() {
    let (d, base) = repo(&[]);
    for (args, needle) in [
        (
            vec!["--base", "no-such-branch"],
            "`no-such-branch` is not a commit",
        ),
        (vec!["--base=--output=/tmp/x"], "is not a commit"),
        (
            vec!["--base", &base, "--head", "nope"],
            "`nope` is not a commit",
        ),
        (
            vec!["--base", &base, "--format", "xml"],
            "unknown format `xml`",
        ),
    ] {
        let mut a = vec!["ci", "check"];
        a.extend(args.iter().copied());
        let o = cavra(d.path(), &a);
        assert_eq!(o.status.code(), Some(1), "{a:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{a:?}: {err}");
    }
    let outside = tempfile::tempdir().unwrap();
    let o = cavra(outside.path(), &["ci", "check", "--base", "main"]);
    assert_eq!(o.status.code(), Some(1));
}

/// Writes session evidence with the real binary: decisions of session `s1`, a bundle of
/// it at `out`, and the trust root of the key that signed it.
fn session_bundle(work: &Path, out: &Path) -> PathBuf {
    let cd = work.join("agent-cavra");
    let cd = cd.to_str().unwrap();
    for (action, target) in [
        ("write_file", "src/lib.rs"),
        ("execute_command", "cargo test"),
    ] {
        let o = cavra(
            work,
            &[
                "--cavra-dir",
                cd,
                "evaluate",
                action,
                target,
                "--session",
                "s1",
            ],
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = cavra(
        work,
        &[
            "--cavra-dir",
            cd,
            "evidence",
            "bundle",
            "--session",
            "s1",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let trust = work.join("trust-root.json");
    let o = cavra(
        work,
        &[
            "--cavra-dir",
            cd,
            "keys",
            "export-public",
            "-o",
            trust.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    trust
}

#[test]
fn require_attestation_needs_a_verified_bundle() {
    let work = tempfile::tempdir().unwrap();
    let (d, base) = repo(&[]);
    write(d.path(), &[("src/lib.rs", "pub fn f() {}\n")]);
    commit(d.path(), "code only");
    let (code, v) = check(d.path(), &base, &["--require-attestation"]);
    assert_eq!(code, 2);
    assert!(has(&v, "ci.attestation.required", "", None), "{v:#}");
    assert!(v["attestation"]["problems"][0]
        .as_str()
        .unwrap()
        .contains("no evidence bundle"));

    // the bundle at the documented path, verified against a trust root given by flag
    let trust = session_bundle(work.path(), &d.path().join(".cavra-evidence"));
    commit(d.path(), "with session evidence");
    let t = trust.to_str().unwrap();
    let (code, v) = check(
        d.path(),
        &base,
        &["--require-attestation", "--trust-root", t],
    );
    assert_eq!((code, failing(&v)), (0, vec![]), "{v:#}");
    assert_eq!(v["attestation"]["ok"], true);
    assert_eq!(v["attestation"]["session_id"], "s1");
    assert_eq!(v["attestation"]["decisions"], 2);
    // without a trust root the bundle's own keys prove nothing about its origin
    let (code, v) = check(d.path(), &base, &["--require-attestation"]);
    assert_eq!(code, 2);
    assert!(
        v["attestation"]["problems"][0]
            .as_str()
            .unwrap()
            .contains("no trust root"),
        "{v:#}"
    );
    // another key's trust root refuses it
    let other = tempfile::tempdir().unwrap();
    let other_trust = session_bundle(other.path(), &other.path().join("b"));
    let (code, v) = check(
        d.path(),
        &base,
        &[
            "--require-attestation",
            "--trust-root",
            other_trust.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{v:#}");
    // a changed byte in the bundle is caught
    let summary = d.path().join(".cavra-evidence/pr-attestation.md");
    let mut text = std::fs::read_to_string(&summary).unwrap();
    text = text.replacen('0', "1", 1);
    std::fs::write(&summary, text).unwrap();
    commit(d.path(), "tampered");
    let (code, v) = check(
        d.path(),
        &base,
        &["--require-attestation", "--trust-root", t],
    );
    assert_eq!(code, 2, "{v:#}");
    assert!(
        v["attestation"]["problems"]
            .to_string()
            .contains("digest_mismatch"),
        "{v:#}"
    );
}

/// The parts of the SARIF 2.1.0 schema (OASIS, sarif-schema-2.1.0.json) this report uses:
/// required properties, enumerations and types of the objects it writes.
fn sarif_schema() -> Value {
    let message =
        json!({"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}});
    let level = json!({"enum": ["none", "note", "warning", "error"]});
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": ["version", "runs"],
        "properties": {
            "$schema": {"type": "string", "format": "uri"},
            "version": {"enum": ["2.1.0"]},
            "runs": {"type": "array", "minItems": 1, "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {"type": "object", "required": ["driver"], "properties": {
                        "driver": {"type": "object", "required": ["name"], "properties": {
                            "name": {"type": "string"},
                            "informationUri": {"type": "string", "format": "uri"},
                            "semanticVersion": {"type": "string"},
                            "rules": {"type": "array", "uniqueItems": true, "items": {
                                "type": "object", "required": ["id"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "shortDescription": message,
                                    "defaultConfiguration": {"type": "object", "properties": {"level": level}},
                                    "properties": {"type": "object"}
                                }
                            }}
                        }}
                    }},
                    "automationDetails": {"type": "object", "properties": {"id": {"type": "string"}}},
                    "originalUriBaseIds": {"type": "object", "additionalProperties": {"type": "object", "properties": {"uri": {"type": "string", "format": "uri-reference"}}}},
                    "versionControlProvenance": {"type": "array", "items": {"type": "object", "required": ["repositoryUri"], "properties": {"repositoryUri": {"type": "string", "format": "uri"}, "revisionId": {"type": "string"}}}},
                    "results": {"type": "array", "items": {
                        "type": "object",
                        "required": ["message"],
                        "properties": {
                            "ruleId": {"type": "string"},
                            "ruleIndex": {"type": "integer", "minimum": -1},
                            "level": level,
                            "message": message,
                            "locations": {"type": "array", "items": {"type": "object", "properties": {
                                "physicalLocation": {"type": "object", "properties": {
                                    "artifactLocation": {"type": "object", "properties": {
                                        "uri": {"type": "string", "format": "uri-reference"},
                                        "uriBaseId": {"type": "string"}
                                    }},
                                    "region": {"type": "object", "properties": {"startLine": {"type": "integer", "minimum": 1}}}
                                }}
                            }}},
                            "properties": {"type": "object"}
                        }
                    }},
                    "properties": {"type": "object"}
                }
            }}
        }
    })
}

/// The templates in `ci/`, installed where each CI reads them: their own commands pass the
/// command guard; the only finding is that a CI workflow changed (it needs an approval).
#[test]
fn the_ci_templates_pass_their_own_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ci");
    for (template, place, commands) in [
        ("github-actions.yml", ".github/workflows/cavra.yml", 2),
        ("gitlab-ci.yml", ".gitlab-ci.yml", 4),
        ("azure-pipelines.yml", "azure-pipelines.yml", 4),
    ] {
        let text = std::fs::read_to_string(root.join(template)).unwrap();
        assert!(text.contains("cavra ci check --base"), "{template}");
        let (d, base) = repo(&[]);
        write(d.path(), &[(place, &text)]);
        commit(d.path(), template);
        let (code, v) = check(d.path(), &base, &[]);
        assert_eq!(
            failing(&v),
            vec![(
                "files.ci_workflows.write".to_string(),
                place.to_string(),
                None
            )],
            "{template}: {v:#}"
        );
        assert_eq!(code, 2);
        assert_eq!(v["commands_checked"], commands, "{template}: {v:#}");
    }
}

/// The repository's own git configuration runs nothing during a check: a textconv driver, an
/// external diff and an fsmonitor that would leave a marker file are all ignored.
#[test]
fn the_repositorys_git_configuration_runs_nothing() {
    let (d, base) = repo(&[(".gitattributes", "*.txt diff=evil\n")]);
    write(d.path(), &[("notes.txt", "an everyday change\n")]);
    commit(d.path(), "change");
    // configured after the commits (the test's own `git add` would run an fsmonitor)
    let marker = d.path().join("ran");
    let touch = format!("touch {}", marker.display());
    let textconv = format!("sh -c '{touch}; cat \"$0\"'");
    git(d.path(), &["config", "diff.evil.textconv", &textconv]);
    git(d.path(), &["config", "diff.external", &touch]);
    git(d.path(), &["config", "core.fsmonitor", &touch]);
    let (code, v) = check(d.path(), &base, &[]);
    assert_eq!(code, 0, "{v}");
    let ran = marker.exists();
    assert!(!ran, "a git driver of the repository ran during the check");
}
