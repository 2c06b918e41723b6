//! What the hook's watchdog thread costs the main thread: one process spawns one sleeping
//! thread (as `failclosed::start_watchdog` does) and prints the microseconds the spawn took.
//! Built with plain rustc; run it many times, e.g.
//!   rustc -O bench/thread_spawn.rs -o /tmp/thread_spawn
//!   for i in $(seq 200); do /tmp/thread_spawn default; done | sort -n | sed -n 100p
//!
//! usage: thread_spawn none|default|small   (small: a 64 KiB stack)

use std::time::{Duration, Instant};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let t = Instant::now();
    let b = std::thread::Builder::new().name("cavra-watchdog".into());
    let b = match mode.as_str() {
        "small" => b.stack_size(64 * 1024),
        _ => b,
    };
    if mode != "none" {
        let _ = b.spawn(|| std::thread::sleep(Duration::from_secs(10)));
    }
    println!("{:.1}", t.elapsed().as_secs_f64() * 1e6);
    std::process::exit(0);
}
