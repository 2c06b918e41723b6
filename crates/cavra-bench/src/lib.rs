//! CAVRA's criterion benchmarks live in `benches/` (`cargo bench -p cavra-bench --bench
//! evaluate|parse|append`); this crate holds no code of its own. They are kept out of the
//! library crates so that `cargo test -p cavra-core` (or `-p cavra-shell`,
//! `-p cavra-evidence`) compiles no benchmark harness: criterion depends on clap, which
//! no library crate may pull in (`crates/cavra-cli/tests/architecture.rs`).
