//! What the walk knows along the way: variables, the working directory and the directory
//! stack, with marks to undo a subshell's or a branch's changes.

use std::collections::HashMap;

use super::Field;
use crate::Cwd;

/// A shell variable's value.
#[derive(Clone, Debug)]
pub(super) enum Var {
    Known(String),
    /// Only known at run time: the invocations whose output makes it up.
    Unknown(Vec<usize>),
}

impl Var {
    /// The value a field assigns.
    pub(super) fn of(f: &Field) -> Var {
        if f.is_dynamic() {
            Var::Unknown(f.producers.clone())
        } else {
            Var::Known(f.value())
        }
    }
}

#[derive(Default)]
pub(super) struct State {
    pub(super) vars: HashMap<String, Var>,
    /// Every assignment with the value it replaced (undone by `restore`).
    log: Vec<(String, Option<Var>)>,
    pub(super) cwd: Cwd,
    pub(super) dirstack: Vec<Cwd>,
}

/// A point to return to (`State::restore`).
pub(super) struct Mark {
    log: usize,
    cwd: Cwd,
    dirstack: Vec<Cwd>,
}

impl State {
    pub(super) fn with_cwd(cwd: Cwd) -> Self {
        State {
            cwd,
            ..State::default()
        }
    }
    pub(super) fn set(&mut self, name: &str, v: Var) {
        let old = self.vars.insert(name.to_string(), v);
        self.log.push((name.to_string(), old));
    }
    pub(super) fn mark(&self) -> Mark {
        Mark {
            log: self.log.len(),
            cwd: self.cwd.clone(),
            dirstack: self.dirstack.clone(),
        }
    }
    pub(super) fn restore(&mut self, m: Mark) {
        while self.log.len() > m.log {
            if let Some((name, old)) = self.log.pop() {
                match old {
                    Some(v) => {
                        self.vars.insert(name, v);
                    }
                    None => {
                        self.vars.remove(&name);
                    }
                }
            }
        }
        self.cwd = m.cwd;
        self.dirstack = m.dirstack;
    }
    pub(super) fn changed_since(&self, m: &Mark) -> Vec<String> {
        let mut v: Vec<String> = self
            .log
            .get(m.log.min(self.log.len())..)
            .unwrap_or_default()
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
    /// After branches of which any may have run: the variables they `changed` are unknown,
    /// and so is the directory unless every branch ends in the same one (`cwds`).
    pub(super) fn merge(&mut self, changed: Vec<String>, cwds: Vec<Cwd>) {
        for n in changed {
            self.set(&n, Var::Unknown(Vec::new()));
        }
        if let Some(first) = cwds.first() {
            self.cwd = if cwds.iter().all(|c| c == first) {
                first.clone()
            } else {
                Cwd::Unknown
            };
        }
    }
    /// After a loop body that ran any number of times since `m`: what it changed is unknown.
    pub(super) fn loop_merge(&mut self, m: Mark) {
        let changed = self.changed_since(&m);
        let cwd_after = self.cwd.clone();
        let cwd_before = m.cwd.clone();
        self.restore(m);
        for n in changed {
            self.set(&n, Var::Unknown(Vec::new()));
        }
        if cwd_after != cwd_before {
            self.cwd = Cwd::Unknown;
        }
    }
}

/// Longer paths become `Unknown` (keeps per-invocation cost bounded; PATH_MAX).
const MAX_CWD: usize = 4096;

/// The directory after `cd v` from `cur`.
pub(super) fn join_cwd(cur: &Cwd, v: &str) -> Cwd {
    match join_cwd_inner(cur, v) {
        Cwd::Known(p) if p.len() > MAX_CWD => Cwd::Unknown,
        c => c,
    }
}

fn join_cwd_inner(cur: &Cwd, v: &str) -> Cwd {
    if v.starts_with('/') || v == "~" || v.starts_with("~/") {
        return Cwd::Known(normalize(v));
    }
    if v.starts_with('~') {
        return Cwd::Known(normalize(v));
    }
    match cur {
        Cwd::Initial => Cwd::Known(normalize(v)),
        Cwd::Known(p) => Cwd::Known(normalize(&format!("{p}/{v}"))),
        Cwd::Unknown => Cwd::Unknown,
    }
}

fn normalize(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(l) if *l != ".." && !(parts.len() == 1 && l.starts_with('~')))
                {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let j = parts.join("/");
    if abs {
        format!("/{j}")
    } else if j.is_empty() {
        ".".into()
    } else {
        j
    }
}
