//! Approximate splitting of Windows payloads: `powershell -Command`, `-EncodedCommand` and
//! `cmd /c`. Commands are split on separators and arguments on whitespace; no full grammar.

pub(crate) struct WinCmd {
    pub argv: Vec<String>,
    /// Receives the previous command's output (`|`).
    pub piped: bool,
    /// Per word: contains a variable whose value is not known (PowerShell).
    pub dynamic: Vec<bool>,
    /// `>`/`>>` redirections (PowerShell).
    pub redirects: Vec<crate::pwsh::PsRedirect>,
    /// Statement number: commands of one statement share it (`iex (iwr u).Content`).
    pub stmt: usize,
}

/// Lowercased basename without `.exe`, for both `\` and `/` separators.
pub(crate) fn program_name(s: &str) -> String {
    let base = s
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(s)
        .to_ascii_lowercase();
    for ext in [".exe", ".com", ".cmd", ".bat"] {
        if let Some(b) = base.strip_suffix(ext).filter(|b| !b.is_empty()) {
            return b.to_string();
        }
    }
    base
}

/// Extract the script text from a `powershell`/`pwsh`/`cmd` argv. Returns (script, label).
pub(crate) fn script_of(kind: &str, argv: &[String]) -> Option<(String, String)> {
    if kind == "cmd" {
        for (i, a) in argv.iter().enumerate().skip(1) {
            let l = a.to_ascii_lowercase();
            if l == "/c" || l == "/k" || l == "/r" {
                let s = argv
                    .get(i.saturating_add(1)..)
                    .unwrap_or_default()
                    .join(" ");
                return Some((strip_outer_quotes(&s), format!("cmd {}", l)));
            }
            if (l.starts_with("/c") || l.starts_with("/k")) && l.len() > 2 && !l.contains(':') {
                let mut s = a[2..].to_string();
                for x in argv.get(i.saturating_add(1)..).unwrap_or_default() {
                    s.push(' ');
                    s.push_str(x);
                }
                return Some((strip_outer_quotes(&s), format!("cmd {}", &l[..2])));
            }
        }
        return None;
    }
    let mut i = 1;
    while let Some(a) = argv.get(i) {
        let l = a.to_ascii_lowercase();
        let l = l.trim_start_matches('/');
        let l = l.trim_start_matches('-');
        if a.starts_with('-') || a.starts_with('/') {
            if !l.is_empty() && "command".starts_with(l) {
                let s = argv
                    .get(i.saturating_add(1)..)
                    .unwrap_or_default()
                    .join(" ");
                return Some((s, "powershell -Command".into()));
            }
            if !l.is_empty() && ("encodedcommand".starts_with(l) || l == "ec" || l == "enc") {
                let b64 = argv.get(i.saturating_add(1))?;
                let s = decode_utf16_b64(b64)?;
                return Some((s, "powershell -EncodedCommand".into()));
            }
            if !l.is_empty() && "file".starts_with(l) {
                return None;
            }
            let takes = [
                "executionpolicy",
                "ep",
                "windowstyle",
                "w",
                "version",
                "v",
                "psconsolefile",
                "inputformat",
                "if",
                "outputformat",
                "of",
                "configurationname",
                "workingdirectory",
                "wd",
                "settingsfile",
            ];
            i = i.saturating_add(if takes.contains(&l) { 2 } else { 1 });
            continue;
        }
        // a bare argument is the command (Windows PowerShell default)
        let s = argv.get(i..).unwrap_or_default().join(" ");
        return Some((s, "powershell -Command".into()));
    }
    None
}

fn strip_outer_quotes(s: &str) -> String {
    let t = s.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        t[1..t.len().saturating_sub(1)].to_string()
    } else {
        t.to_string()
    }
}

fn b64_val(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => u32::from(c.saturating_sub(b'A')),
        b'a'..=b'z' => u32::from(c.saturating_sub(b'a')) + 26,
        b'0'..=b'9' => u32::from(c.saturating_sub(b'0')) + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    })
}

/// Decode base64 of UTF-16LE text (PowerShell `-EncodedCommand`).
pub(crate) fn decode_utf16_b64(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len().saturating_mul(3) / 4);
    let mut acc = 0u32;
    let mut bits: i32 = 0;
    for &c in s.trim().as_bytes() {
        if c == b'=' {
            break;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        acc = (acc << 6) | b64_val(c)?;
        bits = bits.saturating_add(6);
        if bits >= 8 {
            bits = bits.saturating_sub(8);
            bytes.push(((acc >> bits) & 0xff) as u8);
        }
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([crate::at(p, 0), crate::at(p, 1)]))
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// Split a PowerShell script on `;`, `|`, newlines, `&&`, `||`, braces and parentheses.
pub(crate) fn split_powershell(s: &str) -> Vec<WinCmd> {
    let mut out: Vec<WinCmd> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    // per word: `$` outside single quotes
    let mut vars: Vec<bool> = Vec::new();
    let mut cur_var = false;
    let mut stmt = 0usize;
    let mut cur = String::new();
    let mut has_cur = false;
    let mut piped_next = false;
    let mut piped = false;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let flush_word = |cur: &mut String,
                      has: &mut bool,
                      words: &mut Vec<String>,
                      vars: &mut Vec<bool>,
                      var: &mut bool| {
        if *has {
            words.push(std::mem::take(cur));
            vars.push(*var);
            *has = false;
        }
        *var = false;
    };
    macro_rules! end_cmd {
        ($pipe:expr, $new_stmt:expr) => {{
            flush_word(&mut cur, &mut has_cur, &mut words, &mut vars, &mut cur_var);
            if words.first().is_some_and(|w| w == "&" || w == ".") {
                words.remove(0);
                vars.remove(0);
            }
            if !words.is_empty() {
                let ws: Vec<crate::pwsh::PsWord> = std::mem::take(&mut words)
                    .into_iter()
                    .zip(std::mem::take(&mut vars))
                    .map(|(w, v)| {
                        if v {
                            crate::pwsh::resolve_vars(&w)
                        } else {
                            crate::pwsh::PsWord {
                                text: w,
                                dynamic: false,
                            }
                        }
                    })
                    .collect();
                let (ws, redirects) = crate::pwsh::split_redirects(ws);
                let ws = crate::pwsh::normalize(ws);
                if !ws.is_empty() {
                    out.push(WinCmd {
                        dynamic: ws.iter().map(|w| w.dynamic).collect(),
                        argv: ws.into_iter().map(|w| w.text).collect(),
                        piped,
                        redirects,
                        stmt,
                    });
                }
            }
            words.clear();
            vars.clear();
            piped = $pipe;
            if $new_stmt {
                #[allow(unused_assignments)]
                {
                    stmt = stmt.saturating_add(1);
                }
            }
            let _ = piped_next;
        }};
    }
    while i < chars.len() && out.len() < 10_000 {
        let c = crate::at(&chars, i);
        match c {
            '\'' => {
                i = i.saturating_add(1);
                has_cur = true;
                while i < chars.len() {
                    if crate::at(&chars, i) == '\'' {
                        if chars.get(i.saturating_add(1)) == Some(&'\'') {
                            cur.push('\'');
                            i = i.saturating_add(2);
                            continue;
                        }
                        break;
                    }
                    cur.push(crate::at(&chars, i));
                    i = i.saturating_add(1);
                }
                i = i.saturating_add(1);
            }
            '"' => {
                i = i.saturating_add(1);
                has_cur = true;
                while i < chars.len() && crate::at(&chars, i) != '"' {
                    if crate::at(&chars, i) == '`' && i.saturating_add(1) < chars.len() {
                        cur.push(crate::at(&chars, i.saturating_add(1)));
                        i = i.saturating_add(2);
                        continue;
                    }
                    if crate::at(&chars, i) == '$' {
                        cur_var = true;
                    }
                    cur.push(crate::at(&chars, i));
                    i = i.saturating_add(1);
                }
                i = i.saturating_add(1);
            }
            '`' if i.saturating_add(1) < chars.len() => {
                cur.push(crate::at(&chars, i.saturating_add(1)));
                has_cur = true;
                i = i.saturating_add(2);
            }
            '|' if chars.get(i.saturating_add(1)) == Some(&'|') => {
                end_cmd!(false, true);
                i = i.saturating_add(2);
            }
            '|' => {
                end_cmd!(true, false);
                i = i.saturating_add(1);
            }
            '&' if chars.get(i.saturating_add(1)) == Some(&'&') => {
                end_cmd!(false, true);
                i = i.saturating_add(2);
            }
            ';' | '\n' | '\r' | '{' | '}' | '(' | ')' => {
                end_cmd!(false, !matches!(c, '(' | ')'));
                if c == '(' && i > 0 && crate::at(&chars, i.saturating_sub(1)) == '$' {
                    // `$(` subexpression: nothing special
                }
                i = i.saturating_add(1);
            }
            c if c.is_whitespace() => {
                flush_word(&mut cur, &mut has_cur, &mut words, &mut vars, &mut cur_var);
                i = i.saturating_add(1);
            }
            c => {
                if c == '$' {
                    cur_var = true;
                }
                cur.push(c);
                has_cur = true;
                i = i.saturating_add(1);
            }
        }
    }
    end_cmd!(false, true);
    piped_next = piped;
    let _ = piped_next;
    // drop lone `$` left by `$(...)`
    out.retain(|c| !(c.argv.len() == 1 && c.argv.first().is_some_and(|a| a == "$")));
    // `(New-Object Net.WebClient).DownloadString('u')` is a download of `u`
    let mut k = 0usize;
    while k < out.len() {
        let next_same_stmt = out
            .get(k.saturating_add(1))
            .filter(|n| out.get(k).is_some_and(|c| c.stmt == n.stmt))
            .map(|n| {
                n.argv
                    .iter()
                    .zip(&n.dynamic)
                    .map(|(t, d)| crate::pwsh::PsWord {
                        text: t.clone(),
                        dynamic: *d,
                    })
                    .collect::<Vec<_>>()
            });
        let cur_words: Vec<crate::pwsh::PsWord> = out
            .get(k)
            .map(|c| {
                c.argv
                    .iter()
                    .zip(&c.dynamic)
                    .map(|(t, d)| crate::pwsh::PsWord {
                        text: t.clone(),
                        dynamic: *d,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(dl) = crate::pwsh::webclient_download(&cur_words, next_same_stmt.as_deref()) {
            if let Some(c) = out.get_mut(k) {
                c.dynamic = dl.iter().map(|w| w.dynamic).collect();
                c.argv = dl.into_iter().map(|w| w.text).collect();
            }
            if next_same_stmt.is_some() && k.saturating_add(1) < out.len() {
                out.remove(k.saturating_add(1));
            }
        }
        k = k.saturating_add(1);
    }
    out
}

/// Split a `cmd /c` string on `&`, `&&`, `||`, `|` outside double quotes; `^` escapes.
pub(crate) fn split_cmd(s: &str) -> Vec<WinCmd> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut piped = false;
    let mut inq = false;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let end = |words: &mut Vec<String>,
               cur: &mut String,
               has: &mut bool,
               out: &mut Vec<WinCmd>,
               piped: bool| {
        if *has {
            words.push(std::mem::take(cur));
            *has = false;
        }
        if let Some(w) = words.first_mut() {
            if let Some(x) = w.strip_prefix('@') {
                *w = x.to_string();
            }
        }
        if words.first().is_some_and(|w| !w.is_empty()) {
            let argv = std::mem::take(words);
            out.push(WinCmd {
                dynamic: vec![false; argv.len()],
                argv,
                piped,
                redirects: Vec::new(),
                stmt: out.len(),
            });
        } else {
            words.clear();
        }
    };
    while i < chars.len() && out.len() < 10_000 {
        let c = crate::at(&chars, i);
        if inq {
            if c == '"' {
                inq = false;
            } else {
                cur.push(c);
            }
            i = i.saturating_add(1);
            continue;
        }
        match c {
            '"' => {
                inq = true;
                has = true;
                i = i.saturating_add(1);
            }
            '^' if i.saturating_add(1) < chars.len() => {
                cur.push(crate::at(&chars, i.saturating_add(1)));
                has = true;
                i = i.saturating_add(2);
            }
            '&' | '|' => {
                let double = chars.get(i.saturating_add(1)) == Some(&c);
                end(&mut words, &mut cur, &mut has, &mut out, piped);
                piped = c == '|' && !double;
                i = i.saturating_add(if double { 2 } else { 1 });
            }
            '\n' | '\r' => {
                end(&mut words, &mut cur, &mut has, &mut out, piped);
                piped = false;
                i = i.saturating_add(1);
            }
            c if c.is_whitespace() => {
                if has {
                    words.push(std::mem::take(&mut cur));
                    has = false;
                }
                i = i.saturating_add(1);
            }
            c => {
                cur.push(c);
                has = true;
                i = i.saturating_add(1);
            }
        }
    }
    end(&mut words, &mut cur, &mut has, &mut out, piped);
    out
}
