//! The hook's last line of defence: whatever goes wrong in `cavra hook <agent>` — a panic, a
//! bad flag, an unknown agent, an error out of `run`, a decision that takes too long — the
//! agent gets a deny answer in its own protocol and exit code 2, never an exit code it reads
//! as "proceed" (every agent treats a code other than 0 and 2 as a non-blocking failure, and
//! the release profile aborts on panic with 134).

use crate::args::Agent;
use cavra_core::hooks::AgentKind;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// The exit code every agent reads as "blocked".
pub const EXIT_BLOCK: i32 = cavra_agents::EXIT_BLOCK;

/// How long a hook call may take before the watchdog answers deny (override with
/// `CAVRA_HOOK_TIMEOUT`, a duration such as `30s`). Agents wait 60 s by default and then
/// proceed; a decision takes milliseconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Serializes the fail-closed answers (a panic and the watchdog at once write one answer).
static ANSWER: Mutex<()> = Mutex::new(());

/// The agent named after `hook` on the command line (`cavra [globals] hook AGENT …`), if it
/// is one CAVRA knows. Mirrors `is_hook_call`'s walk over the global flags.
pub fn agent_from_args(args: &[String]) -> Option<Agent> {
    let mut i = 1usize;
    while let Some(a) = args.get(i) {
        match a.as_str() {
            "--cavra-dir" => i = i.saturating_add(2),
            "--json" => i = i.saturating_add(1),
            a if a.starts_with("--cavra-dir=") => i = i.saturating_add(1),
            "hook" => break,
            _ => return None,
        }
    }
    let name = args.get(i.saturating_add(1))?;
    AgentKind::from_name(name)
}

/// Writes `agent`'s deny answer (stdout) and the reason (stderr), then exits with 2. Write
/// errors are ignored: the exit code alone already blocks.
pub fn fail_closed(agent: Option<Agent>, reason: &str) -> ! {
    // a poisoned lock still serializes: take it either way and never release it
    let _guard = ANSWER.lock().unwrap_or_else(|p| p.into_inner());
    let answer = cavra_agents::fail_closed(agent, reason);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", answer.stdout);
    let _ = out.flush();
    let _ = writeln!(std::io::stderr(), "{}", answer.stderr);
    std::process::exit(answer.exit_code)
}

/// Installs the hook-call panic hook: any panic answers deny in `agent`'s protocol, exit 2.
pub fn install_panic_hook(agent: Option<Agent>) {
    std::panic::set_hook(Box::new(move |info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        fail_closed(
            agent,
            &format!(
                "CAVRA failed closed: internal error ({what}{at}); the action was not allowed"
            ),
        )
    }));
}

/// Starts the watchdog: if the call is still running after the timeout, answer deny.
pub fn start_watchdog(agent: Option<Agent>) {
    let timeout = std::env::var("CAVRA_HOOK_TIMEOUT")
        .ok()
        .and_then(|t| cavra_core::duration::parse(&t).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_TIMEOUT);
    let spawned = std::thread::Builder::new()
        .name("cavra-watchdog".into())
        .spawn(move || {
            std::thread::sleep(timeout);
            fail_closed(
                agent,
                &format!(
                    "CAVRA failed closed: the decision took longer than {}s; the action was not allowed",
                    timeout.as_secs()
                ),
            )
        });
    if spawned.is_err() {
        // no watchdog thread: the call still answers, only without the time bound
        let _ = writeln!(
            std::io::stderr(),
            "cavra: warning: could not start the hook watchdog"
        );
    }
}

/// The test-only crash trigger: `CAVRA_TEST_PANIC=1` panics on the hook's decision path.
/// Compiled into debug builds only; release builds have no such switch.
#[cfg(debug_assertions)]
#[expect(
    clippy::panic,
    reason = "the test-only crash trigger panics on purpose"
)]
pub fn test_panic_trigger() {
    if std::env::var_os("CAVRA_TEST_PANIC").is_some() {
        panic!("CAVRA_TEST_PANIC is set (debug builds only)");
    }
}

/// Release builds: no trigger.
#[cfg(not(debug_assertions))]
pub fn test_panic_trigger() {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn finds_the_agent_after_hook() {
        assert_eq!(
            agent_from_args(&v("cavra hook claude-code --bogus")),
            Some(Agent::ClaudeCode)
        );
        assert_eq!(
            agent_from_args(&v("cavra --json --cavra-dir d hook gemini-cli")),
            Some(Agent::Gemini)
        );
        assert_eq!(agent_from_args(&v("cavra hook nobody")), None);
        assert_eq!(agent_from_args(&v("cavra hook")), None);
        assert_eq!(agent_from_args(&v("cavra evaluate x")), None);
    }
}
