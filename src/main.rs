//! The `impact` binary: parse, run, map errors to documented exit codes.

use std::error::Error as _;

use clap::Parser;
use impact::cli::{Args, Settings};
use impact::output::Output;

// One selection allocates and frees a few hundred thousand small strings and
// nodes (the suite's ids, the recorded rows read); glibc's malloc and free
// took a fifth of a large selection's time, mimalloc far less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    impact::process::no_huge_pages();
    impact::trace::start();
    let args = Args::parse();
    if args.timings {
        impact::trace::enable();
    }
    let code = match Settings::from_args(&args) {
        Ok(settings) => {
            impact::trace::step("arguments parsed");
            let out = Output::new(settings.color);
            impact::commands::run(&settings, &args.command, &out)
                .unwrap_or_else(|e| report(&e, &out))
        }
        Err(e) => report(&e, &Output::new(false)),
    };
    std::process::exit(code);
}

/// Prints an error and its causes; returns its exit code.
fn report(error: &impact::error::Error, out: &Output) -> i32 {
    eprintln!("{} {error}", out.paint("error:", "1;31"));
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    error.exit_code()
}
