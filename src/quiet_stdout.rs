//! Goose prints "N users launched." on stdout once every user of a test plan
//! has started (`metrics.rs`, whatever `--quiet` says), so it landed before
//! dashload's report on stdout, where scripts read the report. While the
//! attack runs, stdout (fd 1) points at `/dev/null` unless `-v` asked for
//! Goose's own output; dashload's live status and warnings go to stderr.

use std::io::Write;

/// Stdout silenced until dropped.
pub struct Silenced {
    saved: libc::c_int,
}

impl Silenced {
    /// Point fd 1 at `/dev/null`; `None` when that fails (stdout is left as is).
    pub fn start() -> Option<Silenced> {
        let _ = std::io::stdout().flush();
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .ok()?;
        // SAFETY: plain descriptor calls on fds this process owns; `saved` is
        // a fresh duplicate of fd 1 that `drop` puts back and closes.
        unsafe {
            let saved = libc::dup(1);
            if saved < 0 {
                return None;
            }
            if libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 1) < 0 {
                libc::close(saved);
                return None;
            }
            Some(Silenced { saved })
        }
    }
}

impl Drop for Silenced {
    fn drop(&mut self) {
        let _ = std::io::stdout().flush();
        // SAFETY: see `start`.
        unsafe {
            libc::dup2(self.saved, 1);
            libc::close(self.saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_is_silenced_and_given_back() {
        // fd 1 before and after point at the same file.
        let before = std::fs::read_link("/proc/self/fd/1").ok();
        {
            let _quiet = Silenced::start().expect("silenced");
            assert_eq!(
                std::fs::read_link("/proc/self/fd/1").unwrap(),
                std::path::Path::new("/dev/null")
            );
        }
        assert_eq!(std::fs::read_link("/proc/self/fd/1").ok(), before);
    }
}
