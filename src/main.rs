//! dashload's binary: parse, run, map the one error type to the documented exit codes.

use std::process::ExitCode;

use clap::Parser;
use dashload::cli::{exec, Cli};

// A load generator allocates and frees small buffers for every request (URLs, headers,
// metric records); mimalloc's thread-local free lists cost 15-20 % less CPU per request
// than glibc's malloc at 500 viewers (bench/generator_cost.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (position 15 in v2 and v3: the
/// enum keeps retired options as placeholders so positions stay stable). The Rust
/// bindings name no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Give freed memory back at once instead of after mimalloc's default 10 ms: with
/// thousands of connections' buffers churning, the delay kept 10-35 MB more resident at
/// 500 viewers than glibc; with it off, peak RSS matches glibc and the CPU gain stays.
fn tune_allocator() {
    // SAFETY: sets one integer option; mimalloc's options are safe to set at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

fn main() -> ExitCode {
    tune_allocator();
    // `parse` (not `try_parse`) so --help and --version print and exit 0, and usage
    // errors exit 2 with clap's message.
    let cli = Cli::parse();
    match exec(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // A target's answer quoted in an error may echo our credentials.
            let message = format!("{e:#}");
            eprintln!("dashload: {}", dashload::redact::redact(&message));
            ExitCode::from(e.exit_code())
        }
    }
}
