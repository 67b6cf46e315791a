//! `--timings` or `IMPACT_TRACE=1`: where a command's time and memory go, on stderr.
//!
//! One clock for the whole process, started by the first call, so the steps
//! of different modules line up: `trace:   41.2 ms   18 MB  changes computed`
//! (milliseconds since the first traced step, resident memory after it).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

struct Clock {
    start: Instant,
}

/// On by `IMPACT_TRACE` (read when the clock starts) or `--timings` (parsed after).
static ON: AtomicBool = AtomicBool::new(false);

fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(|| {
        if std::env::var_os("IMPACT_TRACE").is_some_and(|v| !v.is_empty() && v != "0") {
            enable();
        }
        Clock {
            start: Instant::now(),
        }
    })
}

/// Whether tracing is on.
pub fn enabled() -> bool {
    clock();
    ON.load(Ordering::Relaxed)
}

/// Turns tracing on (`--timings`).
pub fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// Starts the clock (call early: `main`), so steps count from there.
pub fn start() {
    clock();
}

/// Prints one step, when tracing is on.
pub fn step(what: impl std::fmt::Display) {
    if enabled() {
        let c = clock();
        eprintln!(
            "trace: {:>8.1} ms {:>5} MB  {what}",
            c.start.elapsed().as_secs_f64() * 1e3,
            resident_mb().map_or_else(|| "?".to_string(), |m| m.to_string())
        );
    }
}

/// Runs `f` and prints how long it took as one step, when tracing is on.
pub fn timed<T>(what: impl std::fmt::Display, f: impl FnOnce() -> T) -> T {
    if !enabled() {
        return f();
    }
    let t = Instant::now();
    let value = f();
    step(format_args!(
        "{what} ({:.1} ms)",
        t.elapsed().as_secs_f64() * 1e3
    ));
    value
}

/// Resident memory in MB (Linux; `None` elsewhere).
fn resident_mb() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096 / 1_000_000)
}
