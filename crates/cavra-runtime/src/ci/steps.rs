//! The commands a changed file would run: shell scripts (by extension or `#!` line),
//! Makefile recipes, GitHub Actions `run:` steps, GitLab CI `script:` /
//! `before_script:` / `after_script:` and Azure Pipelines `script:` / `bash:` steps. Each
//! command comes with the lines it spans, so only commands touching added lines are judged.

use cavra_core::guard::scripts::{is_shell_text, shell_chunks};

/// What kind of file runs commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Shell,
    Make,
    GithubWorkflow,
    GitlabCi,
    AzurePipelines,
}

impl FileKind {
    /// The kind of `path` with text `text`, when it runs commands.
    pub fn of(path: &str, text: &str) -> Option<FileKind> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
        if (path.starts_with(".github/workflows/") || path.starts_with(".github/actions/")) && yaml
        {
            return Some(FileKind::GithubWorkflow);
        }
        if name == ".gitlab-ci.yml" || (path.starts_with(".gitlab/") && yaml) {
            return Some(FileKind::GitlabCi);
        }
        if name.starts_with("azure-pipelines") && yaml {
            return Some(FileKind::AzurePipelines);
        }
        if matches!(name, "Makefile" | "makefile" | "GNUmakefile") || name.ends_with(".mk") {
            return Some(FileKind::Make);
        }
        if [".sh", ".bash", ".zsh", ".ksh"]
            .iter()
            .any(|e| name.ends_with(e))
            || is_shell_text(text)
        {
            return Some(FileKind::Shell);
        }
        None
    }

    /// The YAML keys whose values are shell commands.
    fn keys(self) -> &'static [&'static str] {
        match self {
            FileKind::GithubWorkflow => &["run"],
            FileKind::GitlabCi => &["script", "before_script", "after_script"],
            FileKind::AzurePipelines => &["script", "bash"],
            FileKind::Shell | FileKind::Make => &[],
        }
    }
}

/// One command of a file: its first and last line (1-based) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub first: usize,
    pub last: usize,
    pub text: String,
}

impl Step {
    /// Does the step span one of `lines`?
    pub fn touches(&self, lines: &[usize]) -> bool {
        lines.iter().any(|l| *l >= self.first && *l <= self.last)
    }
}

/// The commands in `text`, a file of `kind`.
pub fn steps(kind: FileKind, text: &str) -> Vec<Step> {
    match kind {
        FileKind::Shell => script_steps(text, 1),
        FileKind::Make => make_steps(text),
        _ => yaml_steps(kind, text),
    }
}

/// A shell script's chunks, numbered from `offset` (the script's first line).
fn script_steps(text: &str, offset: usize) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut continued = false;
    for (start, chunk) in shell_chunks(text, &Default::default()) {
        let first = start.saturating_add(offset).saturating_sub(1);
        let last = first
            .saturating_add(chunk.lines().count().max(1))
            .saturating_sub(1);
        let body = chunk.trim_end();
        match out.last_mut() {
            // a `\`-continued line goes on in the next chunk
            Some(prev) if continued => {
                prev.text.push('\n');
                prev.text.push_str(body);
                prev.last = last;
            }
            _ => out.push(Step {
                first,
                last,
                text: body.to_string(),
            }),
        }
        continued = body.ends_with('\\');
    }
    out
}

/// Every recipe line of every rule (`\`-continued lines joined; `$$` is a `$`).
fn make_steps(text: &str) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut open = false;
    for (i, line) in text.lines().enumerate() {
        let n = i.saturating_add(1);
        if open {
            if let Some(s) = out.last_mut() {
                s.last = n;
                s.text.push(' ');
                s.text.push_str(line.trim().trim_end_matches('\\'));
            }
            open = line.ends_with('\\');
            continue;
        }
        if let Some(recipe) = line.strip_prefix('\t') {
            let cmd = recipe.trim_start_matches(['@', '-', '+']).trim();
            if cmd.is_empty() || cmd.starts_with('#') {
                continue;
            }
            open = cmd.ends_with('\\');
            out.push(Step {
                first: n,
                last: n,
                text: cmd.trim_end_matches('\\').to_string(),
            });
        }
    }
    for s in &mut out {
        s.text = s.text.replace("$$", "$");
    }
    out
}

fn indent(line: &str) -> usize {
    line.len().saturating_sub(line.trim_start().len())
}

/// `KEY: rest` at the start of `line` (after its indentation and an optional `- `), for
/// one of `keys`: (the key's column, rest).
fn key_value<'a>(line: &'a str, keys: &[&str]) -> Option<(usize, &'a str)> {
    let body = line.trim_start();
    let body = body.strip_prefix("- ").map(str::trim_start).unwrap_or(body);
    let col = line.len().saturating_sub(body.len());
    let (k, rest) = body.split_once(':')?;
    let k = k.trim_matches(['"', '\'']);
    (keys.contains(&k) && (rest.is_empty() || rest.starts_with(' '))).then_some((col, rest.trim()))
}

/// A YAML scalar written on one line, unquoted.
fn scalar(v: &str) -> String {
    let v = v.split(" #").next().unwrap_or(v).trim();
    if let Some(s) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return s.replace("''", "'");
    }
    if let Some(s) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return s.replace("\\\"", "\"").replace("\\\\", "\\");
    }
    v.to_string()
}

/// The lines after `start` that are deeper than `col` (blank lines included), dedented:
/// a block scalar's text and the index of its last line.
fn block(lines: &[&str], start: usize, col: usize) -> (String, usize) {
    let mut text = String::new();
    let mut last = start;
    let mut base = None;
    let mut i = start.saturating_add(1);
    while let Some(l) = lines.get(i) {
        if l.trim().is_empty() {
            text.push('\n');
            i = i.saturating_add(1);
            continue;
        }
        if indent(l) <= col {
            break;
        }
        let b = *base.get_or_insert(indent(l));
        text.push_str(l.get(b.min(indent(l))..).unwrap_or(""));
        text.push('\n');
        last = i;
        i = i.saturating_add(1);
    }
    (text, last)
}

/// The value of a key or list item, from line `i` (0-based) where it starts with `rest`:
/// the steps it holds and the index of its last line.
fn value_steps(lines: &[&str], i: usize, col: usize, rest: &str) -> (Vec<Step>, usize) {
    let line_no = i.saturating_add(1);
    if rest.starts_with('|') || rest.starts_with('>') {
        let (text, last) = block(lines, i, col);
        return (script_steps(&text, line_no.saturating_add(1)), last);
    }
    if let Some(flow) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let steps = flow
            .split(',')
            .map(scalar)
            .filter(|s| !s.is_empty())
            .map(|text| Step {
                first: line_no,
                last: line_no,
                text,
            });
        return (steps.collect(), i);
    }
    if !rest.is_empty() {
        let text = scalar(rest);
        return (
            vec![Step {
                first: line_no,
                last: line_no,
                text,
            }],
            i,
        );
    }
    // a list of commands below the key (at its column or deeper)
    let mut out = Vec::new();
    let mut last = i;
    let mut j = i.saturating_add(1);
    while let Some(l) = lines.get(j) {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            j = j.saturating_add(1);
            continue;
        }
        let item_col = indent(l);
        let Some(item) = l.trim_start().strip_prefix("- ").map(str::trim) else {
            break;
        };
        if item_col < col {
            break;
        }
        let (steps, end) = value_steps(lines, j, item_col, item);
        out.extend(steps);
        last = end;
        j = end.saturating_add(1);
    }
    (out, last)
}

/// The shell steps of a CI configuration file.
fn yaml_steps(kind: FileKind, text: &str) -> Vec<Step> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(line) = lines.get(i) {
        match key_value(line, kind.keys()) {
            Some((col, rest)) => {
                let (steps, last) = value_steps(&lines, i, col, rest);
                out.extend(steps);
                i = last.saturating_add(1);
            }
            None => i = i.saturating_add(1),
        }
    }
    out
}

/// `${{ … }}` expressions of GitHub Actions replaced by a variable, so the shell parser
/// sees a value it cannot know (as the runner's shell would).
pub fn without_expressions(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(p) = rest.find("${{") {
        out.push_str(rest.get(..p).unwrap_or(""));
        match rest.get(p..).and_then(|r| r.find("}}")) {
            Some(e) => {
                out.push_str("$CAVRA_EXPR");
                rest = rest
                    .get(p.saturating_add(e).saturating_add(2)..)
                    .unwrap_or("");
            }
            None => {
                rest = rest.get(p..).unwrap_or("");
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Attacker-controlled GitHub context interpolated into a `run:` step (script injection:
/// an issue title or branch name becomes shell code): the expression, if any.
pub fn untrusted_expression(text: &str) -> Option<String> {
    const UNTRUSTED: &[&str] = &[
        "github.event.issue.title",
        "github.event.issue.body",
        "github.event.pull_request.title",
        "github.event.pull_request.body",
        "github.event.pull_request.head.ref",
        "github.event.pull_request.head.label",
        "github.event.comment.body",
        "github.event.review.body",
        "github.event.review_comment.body",
        "github.event.discussion.title",
        "github.event.discussion.body",
        "github.event.head_commit.message",
        "github.event.head_commit.author",
        "github.event.commits",
        "github.event.pages",
        "github.head_ref",
    ];
    let mut rest = text;
    while let Some(p) = rest.find("${{") {
        let tail = rest.get(p.saturating_add(3)..).unwrap_or("");
        let end = tail.find("}}").unwrap_or(tail.len());
        let expr = tail.get(..end).unwrap_or("").trim();
        if UNTRUSTED.iter().any(|u| expr.contains(u)) {
            return Some(expr.to_string());
        }
        rest = tail;
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn texts(kind: FileKind, text: &str) -> Vec<(usize, usize, String)> {
        steps(kind, text)
            .into_iter()
            .map(|s| (s.first, s.last, s.text))
            .collect()
    }

    #[test]
    fn kinds() {
        assert_eq!(
            FileKind::of(".github/workflows/ci.yml", ""),
            Some(FileKind::GithubWorkflow)
        );
        assert_eq!(FileKind::of(".gitlab-ci.yml", ""), Some(FileKind::GitlabCi));
        assert_eq!(
            FileKind::of("azure-pipelines.yml", ""),
            Some(FileKind::AzurePipelines)
        );
        assert_eq!(FileKind::of("sub/Makefile", ""), Some(FileKind::Make));
        assert_eq!(FileKind::of("scripts/x.sh", ""), Some(FileKind::Shell));
        assert_eq!(
            FileKind::of("bin/run", "#!/usr/bin/env bash\n"),
            Some(FileKind::Shell)
        );
        assert_eq!(FileKind::of("src/main.rs", "fn main() {}"), None);
        assert_eq!(FileKind::of("config.yml", "run: rm -rf /"), None);
    }

    #[test]
    fn github_run_steps() {
        let wf = "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: cargo test\n      - name: deploy\n        run: |\n          echo one\n          ./deploy.sh \\\n            --prod\n      - name: q\n        run: 'echo ''hi'''\n";
        assert_eq!(
            texts(FileKind::GithubWorkflow, wf),
            vec![
                (7, 7, "cargo test".into()),
                (10, 10, "echo one".into()),
                (11, 12, "./deploy.sh \\\n  --prod".into()),
                (14, 14, "echo 'hi'".into()),
            ]
        );
    }

    #[test]
    fn gitlab_and_azure_steps() {
        let gl = "test:\n  before_script: [npm ci, 'echo x']\n  script:\n    - npm test\n    - |\n      rm -rf build\n      make\n  after_script:\n  - echo done\nvariables:\n  script: not-a-job\n";
        let t = texts(FileKind::GitlabCi, gl);
        assert_eq!(
            t.iter().map(|s| s.2.as_str()).collect::<Vec<_>>(),
            vec![
                "npm ci",
                "echo x",
                "npm test",
                "rm -rf build",
                "make",
                "echo done",
                "not-a-job"
            ]
        );
        assert_eq!(t[3].0, 6);
        let az =
            "steps:\n- script: echo hello\n  displayName: x\n- bash: |\n    git push --force\n";
        assert_eq!(
            texts(FileKind::AzurePipelines, az),
            vec![
                (2, 2, "echo hello".into()),
                (5, 5, "git push --force".into())
            ]
        );
    }

    #[test]
    fn make_recipes_all_rules() {
        let mk = "build:\n\t@cargo build\nclean:\n\trm -rf target \\\n\t  dist\n\n# x\nVAR = 1\nenv:\n\techo $$HOME\n";
        assert_eq!(
            texts(FileKind::Make, mk),
            vec![
                (2, 2, "cargo build".into()),
                (4, 5, "rm -rf target  dist".into()),
                (10, 10, "echo $HOME".into()),
            ]
        );
    }

    #[test]
    fn expressions() {
        assert_eq!(
            without_expressions("echo ${{ github.sha }} and ${{ env.X }}"),
            "echo $CAVRA_EXPR and $CAVRA_EXPR"
        );
        assert_eq!(without_expressions("a ${{ b"), "a ${{ b");
        assert_eq!(
            untrusted_expression("echo \"${{ github.event.issue.title }}\"").as_deref(),
            Some("github.event.issue.title")
        );
        assert_eq!(untrusted_expression("echo ${{ github.sha }}"), None);
    }
}
