//! PowerShell commands made comparable with their POSIX counterparts: parameters bound by
//! name (`-Path X`, `-FilePath X`, `-Destination Y`) become positionals in their positional
//! order (abbreviations such as `-lp`, `-FilePa` are recognised; switches keep their
//! spelling, so rules list the abbreviations they mean), `-Switch:$true` is the switch, `>`/`>>` redirections are split off, and home/system
//! variables (`$HOME`, `$env:USERPROFILE`, `$env:SystemRoot`, ...) are spelled as paths; any
//! other variable makes the word dynamic. `Start-Process` and WebClient downloads are
//! rewritten into the command they run.
//!
//! Written for `clippy::arithmetic_side_effects` / `indexing_slicing`.

/// A PowerShell redirection: fd (`None` = stdout, `Some(2)`, ... ; `*` is stdout), append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PsRedirect {
    pub fd: Option<u32>,
    pub append: bool,
    pub target: String,
}

/// Parameters of a cmdlet: bound to positionals in this order, switches, named values.
struct Cmdlet {
    names: &'static [&'static str],
    /// Positional slots in order; each lists the parameter names bound to it.
    positional: &'static [&'static [&'static str]],
    switches: &'static [&'static str],
    values: &'static [&'static str],
}

const COMMON_VALUES: &[&str] = &[
    "erroraction",
    "warningaction",
    "informationaction",
    "errorvariable",
    "warningvariable",
    "outvariable",
    "outbuffer",
    "pipelinevariable",
];
const COMMON_SWITCHES: &[&str] = &["verbose", "debug", "whatif", "confirm"];

const CMDLETS: &[Cmdlet] = &[
    Cmdlet {
        names: &["remove-item", "ri", "rm", "del", "erase", "rd", "rmdir"],
        positional: &[&["path", "literalpath"]],
        switches: &["recurse", "force"],
        values: &["filter", "include", "exclude", "credential", "stream"],
    },
    Cmdlet {
        names: &["set-content", "sc", "add-content", "ac"],
        positional: &[&["path", "literalpath"], &["value"]],
        switches: &[
            "force",
            "nonewline",
            "passthru",
            "asbytestream",
            "nonewline",
        ],
        values: &[
            "value",
            "encoding",
            "stream",
            "filter",
            "include",
            "exclude",
            "credential",
        ],
    },
    Cmdlet {
        names: &["clear-content", "clc"],
        positional: &[&["path", "literalpath"]],
        switches: &["force"],
        values: &["filter", "include", "exclude", "credential", "stream"],
    },
    Cmdlet {
        names: &["out-file"],
        positional: &[&["filepath", "literalpath"]],
        switches: &["append", "force", "noclobber", "nonewline"],
        values: &["encoding", "inputobject", "width"],
    },
    Cmdlet {
        names: &["tee-object", "tee"],
        positional: &[&["filepath", "literalpath"]],
        switches: &["append"],
        values: &["inputobject", "variable", "encoding"],
    },
    Cmdlet {
        names: &["new-item", "ni"],
        positional: &[&["path"], &["itemtype"]],
        switches: &["force"],
        values: &["itemtype", "type", "name", "value", "credential"],
    },
    Cmdlet {
        names: &[
            "copy-item",
            "cpi",
            "copy",
            "cp",
            "move-item",
            "mi",
            "move",
            "mv",
        ],
        positional: &[&["path", "literalpath"], &["destination"]],
        switches: &["recurse", "force", "container", "passthru"],
        values: &[
            "filter",
            "include",
            "exclude",
            "credential",
            "tosession",
            "fromsession",
        ],
    },
    Cmdlet {
        names: &["get-content", "gc", "type", "cat"],
        positional: &[&["path", "literalpath"]],
        switches: &["raw", "wait", "force", "asbytestream"],
        values: &[
            "totalcount",
            "head",
            "first",
            "tail",
            "last",
            "encoding",
            "delimiter",
            "readcount",
            "filter",
            "include",
            "exclude",
            "credential",
            "stream",
        ],
    },
    Cmdlet {
        names: &["start-process", "saps", "start"],
        positional: &[&["filepath"], &["argumentlist"]],
        switches: &[
            "wait",
            "nonewwindow",
            "passthru",
            "loaduserprofile",
            "usenewenvironment",
            "useshellexecute",
        ],
        values: &[
            "verb",
            "workingdirectory",
            "windowstyle",
            "redirectstandardoutput",
            "redirectstandardinput",
            "redirectstandarderror",
            "credential",
            "environment",
        ],
    },
];

fn cmdlet(program: &str) -> Option<&'static Cmdlet> {
    CMDLETS.iter().find(|c| c.names.contains(&program))
}

/// The full parameter name an abbreviation stands for (unique prefix), if any.
fn expand<'a>(c: &'a Cmdlet, abbrev: &str) -> Option<&'a str> {
    let all = c
        .positional
        .iter()
        .flat_map(|slot| slot.iter())
        .chain(c.switches)
        .chain(c.values)
        .chain(COMMON_VALUES)
        .chain(COMMON_SWITCHES);
    let mut hit: Option<&str> = None;
    for p in all {
        if *p == abbrev {
            return Some(p);
        }
        if p.starts_with(abbrev) {
            if hit.is_some_and(|h| h != *p) {
                return None;
            }
            hit = Some(p);
        }
    }
    // PowerShell's own aliases
    hit.or(match abbrev {
        "ea" => Some("erroraction"),
        "wa" => Some("warningaction"),
        "ev" => Some("errorvariable"),
        "ov" => Some("outvariable"),
        "lp" | "pspath" => Some("literalpath"),
        "args" => Some("argumentlist"),
        _ => None,
    })
}

/// A word of a PowerShell command: text, and whether it contains an unresolved variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PsWord {
    pub text: String,
    pub dynamic: bool,
}

/// Resolve `$HOME`-like variables in a word written with variables (`$` outside single
/// quotes); others make it dynamic.
pub(crate) fn resolve_vars(w: &str) -> PsWord {
    const KNOWN: &[(&str, &str)] = &[
        ("${env:userprofile}", "~"),
        ("$env:userprofile", "~"),
        ("${env:home}", "~"),
        ("$env:home", "~"),
        ("$home", "~"),
        ("$env:systemroot", "C:\\Windows"),
        ("$env:windir", "C:\\Windows"),
        ("$env:systemdrive", "C:"),
        ("$env:programfiles", "C:\\Program Files"),
        ("$env:programdata", "C:\\ProgramData"),
        ("$env:appdata", "~\\AppData\\Roaming"),
        ("$env:localappdata", "~\\AppData\\Local"),
        ("$env:temp", "~\\AppData\\Local\\Temp"),
        ("$env:tmp", "~\\AppData\\Local\\Temp"),
        ("$pwd", "."),
    ];
    let mut out = String::new();
    let mut dynamic = false;
    let mut rest = w;
    let mut guard = 0u32;
    while let Some(pos) = rest.find('$') {
        guard = guard.saturating_add(1);
        if guard > 64 {
            dynamic = true;
            break;
        }
        out.push_str(rest.get(..pos).unwrap_or(""));
        let tail = rest.get(pos..).unwrap_or("");
        let lower = tail.to_ascii_lowercase();
        let known = KNOWN.iter().find(|(k, _)| {
            lower.starts_with(k)
                && !lower
                    .get(k.len()..)
                    .and_then(|r| r.chars().next())
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        });
        match known {
            Some((k, v)) => {
                out.push_str(v);
                rest = tail.get(k.len()..).unwrap_or("");
            }
            None => {
                // `$` alone or before a non-name is a literal dollar
                let next = tail.chars().nth(1);
                if next
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '{' || c == '(')
                {
                    dynamic = true;
                }
                out.push('$');
                rest = tail.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    PsWord { text: out, dynamic }
}

/// Split redirections off a command's words: `> f`, `>> f`, `2> f`, `*> f`, `>f`;
/// `2>&1` and `> $null` are dropped.
pub(crate) fn split_redirects(words: Vec<PsWord>) -> (Vec<PsWord>, Vec<PsRedirect>) {
    let mut out = Vec::new();
    let mut redirs = Vec::new();
    let mut it = words.into_iter().peekable();
    while let Some(w) = it.next() {
        let t = w.text.as_str();
        let (fd_part, after) = match t.find('>') {
            Some(p) => (t.get(..p).unwrap_or(""), t.get(p..).unwrap_or("")),
            None => {
                out.push(w);
                continue;
            }
        };
        let fd = match fd_part {
            "" | "*" | "1" => None,
            d if d.len() == 1 && d.bytes().all(|b| b.is_ascii_digit()) => d.parse().ok(),
            _ => {
                out.push(w);
                continue;
            }
        };
        let append = after.starts_with(">>");
        let target = after.trim_start_matches('>');
        let target = if target.is_empty() {
            match it.next() {
                Some(n) => n.text,
                None => break,
            }
        } else {
            target.to_string()
        };
        if target.starts_with('&') || target.eq_ignore_ascii_case("$null") {
            continue;
        }
        redirs.push(PsRedirect { fd, append, target });
    }
    (out, redirs)
}

/// Bind a cmdlet's named parameters: the result has the program, switches and named values
/// first, then positionals in positional order.
pub(crate) fn normalize(words: Vec<PsWord>) -> Vec<PsWord> {
    let Some(first) = words.first() else {
        return words;
    };
    let program = crate::windows::program_name(&first.text);
    let Some(c) = cmdlet(&program) else {
        return words;
    };
    let mut head: Vec<PsWord> = vec![first.clone()];
    let mut bound: Vec<(usize, PsWord)> = Vec::new();
    let mut loose: Vec<PsWord> = Vec::new();
    let mut k = 1usize;
    while let Some(w) = words.get(k) {
        k = k.saturating_add(1);
        let t = w.text.as_str();
        let is_param = t.len() > 1
            && t.starts_with('-')
            && t.chars().nth(1).is_some_and(|c| c.is_ascii_alphabetic());
        if !is_param || w.dynamic && !t.contains(':') {
            loose.push(w.clone());
            continue;
        }
        let body = t.get(1..).unwrap_or("");
        let (name, inline) = match body.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let lname = name.to_ascii_lowercase();
        let Some(full) = expand(c, &lname) else {
            loose.push(w.clone());
            continue;
        };
        // the name as written (rules list the abbreviations they mean, `-rec`)
        let spelled = format!("-{name}");
        if c.switches.contains(&full) || COMMON_SWITCHES.contains(&full) {
            if !inline.is_some_and(|v| v.eq_ignore_ascii_case("$false")) {
                head.push(PsWord {
                    text: spelled,
                    dynamic: false,
                });
            }
            continue;
        }
        let value = match inline {
            Some(v) => PsWord {
                text: v.to_string(),
                dynamic: w.dynamic,
            },
            None => match words.get(k) {
                Some(v) => {
                    k = k.saturating_add(1);
                    v.clone()
                }
                None => continue,
            },
        };
        if let Some(slot) = c.positional.iter().position(|names| names.contains(&full)) {
            bound.push((slot, value));
        } else {
            head.push(PsWord {
                text: spelled,
                dynamic: false,
            });
            head.push(value);
        }
    }
    // unbound slots take the loose words in order; path-like slots stay positional, the
    // others (`Set-Content`'s value) become named
    let mut loose = loose.into_iter();
    let mut tail: Vec<PsWord> = Vec::new();
    for (slot, names) in c.positional.iter().enumerate() {
        let mut vals: Vec<PsWord> = bound
            .iter()
            .filter(|(p, _)| *p == slot)
            .map(|(_, w)| w.clone())
            .collect();
        if vals.is_empty() {
            vals.extend(loose.next());
        }
        let name = names.first().copied().unwrap_or("");
        if PATH_LIKE.contains(&name) {
            tail.extend(vals);
        } else if !vals.is_empty() {
            head.push(PsWord {
                text: format!("-{name}"),
                dynamic: false,
            });
            head.extend(vals);
        }
    }
    head.extend(tail);
    head.extend(loose);
    head
}

/// Positional parameters that name files or the command to run.
const PATH_LIKE: &[&str] = &["path", "filepath", "destination", "argumentlist"];

/// `Start-Process FILE [ARGS]` (after [`normalize`]): the command line it runs, as text.
pub(crate) fn start_process_line(words: &[PsWord]) -> Option<String> {
    let program = crate::windows::program_name(&words.first()?.text);
    if !matches!(program.as_str(), "start-process" | "saps" | "start") {
        return None;
    }
    let mut k = 1usize;
    let mut rest: Vec<String> = Vec::new();
    while let Some(w) = words.get(k) {
        k = k.saturating_add(1);
        let t = w.text.as_str();
        let l = t.to_ascii_lowercase();
        if let Some(name) = l.strip_prefix('-') {
            if CMDLETS
                .iter()
                .find(|c| c.names.contains(&"start-process"))
                .is_some_and(|c| c.values.contains(&name) || COMMON_VALUES.contains(&name))
            {
                k = k.saturating_add(1);
                continue;
            }
            if CMDLETS
                .iter()
                .find(|c| c.names.contains(&"start-process"))
                .is_some_and(|c| c.switches.contains(&name) || COMMON_SWITCHES.contains(&name))
            {
                continue;
            }
        }
        // `-ArgumentList 'a','b c'` arrives as one comma-joined word
        rest.push(t.replace(',', " "));
    }
    let file = rest.first()?.clone();
    // documents and URLs open in their application
    if file.contains("://") {
        return None;
    }
    Some(rest.join(" ").trim().to_string()).filter(|s| !s.is_empty() && !file.is_empty())
}

/// `(New-Object Net.WebClient).DownloadString('u')` / `.DownloadFile('u', 'f')`: the
/// command words `.DownloadString` and the argument word become `invoke-webrequest u
/// [-OutFile f]`.
pub(crate) fn webclient_download(words: &[PsWord], next: Option<&[PsWord]>) -> Option<Vec<PsWord>> {
    let m = words.first()?.text.to_ascii_lowercase();
    let m = m.strip_prefix('.')?;
    if !matches!(
        m,
        "downloadstring"
            | "downloaddata"
            | "downloadfile"
            | "downloadfileasync"
            | "downloadstringasync"
    ) {
        return None;
    }
    let w = |s: &str| PsWord {
        text: s.to_string(),
        dynamic: false,
    };
    let mut out = vec![w("invoke-webrequest")];
    if let Some(args) = next.filter(|n| !n.is_empty()) {
        // `("u", "f")` arrives as the words `u,` and `f`
        let text = args
            .iter()
            .map(|a| a.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let dynamic = args.iter().any(|a| a.dynamic);
        let mut parts = text.splitn(2, ',');
        if let Some(u) = parts.next() {
            out.push(PsWord {
                text: u.trim().to_string(),
                dynamic,
            });
        }
        if let Some(f) = parts.next() {
            out.push(w("-OutFile"));
            out.push(PsWord {
                text: f.trim().to_string(),
                dynamic,
            });
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn words(v: &[&str]) -> Vec<PsWord> {
        v.iter()
            .map(|s| PsWord {
                text: s.to_string(),
                dynamic: false,
            })
            .collect()
    }

    fn texts(v: &[PsWord]) -> Vec<String> {
        v.iter().map(|w| w.text.clone()).collect()
    }

    #[test]
    fn named_parameters_become_positionals() {
        let n = |v: &[&str]| texts(&normalize(words(v)));
        assert_eq!(
            n(&["Remove-Item", "-Path", "C:\\x", "-Recurse", "-Force"]),
            ["Remove-Item", "-Recurse", "-Force", "C:\\x"]
        );
        assert_eq!(n(&["ri", "-r", "-fo", "~"]), ["ri", "-r", "-fo", "~"]);
        assert_eq!(
            n(&["ri", "-fo", "-lp", "x", "-rec"]),
            ["ri", "-fo", "-rec", "x"]
        );
        assert_eq!(
            n(&["Remove-Item", "-Recurse:$true", "-LiteralPath", "x"]),
            ["Remove-Item", "-Recurse", "x"]
        );
        assert_eq!(
            n(&["Remove-Item", "-Recurse:$false", "x"]),
            ["Remove-Item", "x"]
        );
        assert_eq!(
            n(&["Set-Content", "-Value", "x", "-Path", "~/.bashrc"]),
            ["Set-Content", "-value", "x", "~/.bashrc"]
        );
        assert_eq!(
            n(&["Set-Content", "~/.bashrc", "x"]),
            ["Set-Content", "-value", "x", "~/.bashrc"]
        );
        assert_eq!(
            n(&["Copy-Item", "-Destination", "C:\\Windows", "-Path", "a"]),
            ["Copy-Item", "a", "C:\\Windows"]
        );
        assert_eq!(
            n(&["Out-File", "-FilePath", "f", "-Append"]),
            ["Out-File", "-Append", "f"]
        );
        assert_eq!(
            n(&["Get-ChildItem", "-Path", "x"]),
            ["Get-ChildItem", "-Path", "x"]
        );
        // ambiguous abbreviations stay as written
        assert_eq!(n(&["Remove-Item", "-e", "x"]), ["Remove-Item", "-e", "x"]);
    }

    #[test]
    fn variables() {
        assert_eq!(resolve_vars("$HOME").text, "~");
        assert_eq!(resolve_vars("$env:USERPROFILE\\x").text, "~\\x");
        assert_eq!(resolve_vars("${env:UserProfile}/x").text, "~/x");
        assert_eq!(resolve_vars("$env:SystemRoot").text, "C:\\Windows");
        assert!(!resolve_vars("$HOME").dynamic);
        assert!(resolve_vars("$target").dynamic);
        assert!(resolve_vars("$HOMEDIR").dynamic);
        assert!(resolve_vars("$(Get-Location)").dynamic);
        assert!(!resolve_vars("costs 5$").dynamic);
    }

    #[test]
    fn redirections() {
        let (w, r) = split_redirects(words(&["echo", "x", ">", "~/.bashrc"]));
        assert_eq!(texts(&w), ["echo", "x"]);
        assert_eq!(
            r,
            [PsRedirect {
                fd: None,
                append: false,
                target: "~/.bashrc".into()
            }]
        );
        let (_, r) = split_redirects(words(&["echo", "x", ">>f", "2>&1", "2>", "e.log"]));
        assert_eq!(r.len(), 2);
        assert!(r[0].append);
        assert_eq!(r[1].fd, Some(2));
        let (_, r) = split_redirects(words(&["x", ">", "$null"]));
        assert!(r.is_empty());
    }

    #[test]
    fn start_process() {
        let s = |v: &[&str]| start_process_line(&normalize(words(v)));
        assert_eq!(
            s(&["Start-Process", "cmd", "-ArgumentList", "/c rd /s /q C:\\"]).as_deref(),
            Some("cmd /c rd /s /q C:\\")
        );
        assert_eq!(
            s(&[
                "Start-Process",
                "-FilePath",
                "npm",
                "-ArgumentList",
                "run,build",
                "-Wait"
            ])
            .as_deref(),
            Some("npm run build")
        );
        assert_eq!(
            s(&[
                "saps",
                "powershell",
                "-Verb",
                "RunAs",
                "-ArgumentList",
                "-c,Remove-Item x"
            ])
            .as_deref(),
            Some("powershell -c Remove-Item x")
        );
        assert_eq!(s(&["Start-Process", "https://example.com"]), None);
    }
}
