//! What the `impact` process sets for itself, and undoes for the test
//! command it starts: transparent huge pages off.
//!
//! A command lives for milliseconds and touches a few dozen megabytes once.
//! mimalloc advises huge pages for its segments, so the kernel zeroes 2 MB
//! at a first touch where 4 KB would do: a quarter of a selection's time on
//! pyparsing went to `clear_page_erms`. The setting is inherited across
//! fork and exec, so the test command gets back the one impact started with
//! (the interpreter probe, as short-lived as impact, keeps it off).

use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

/// `PR_GET_THP_DISABLE` before [`no_huge_pages`] changed it; -1 when it did not.
static INHERITED: AtomicI32 = AtomicI32::new(-1);

/// Turns transparent huge pages off for this process (Linux; elsewhere,
/// or when the kernel refuses, nothing changes).
pub fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with these options reads or sets a flag of the
        // calling process and touches no memory of ours.
        let before = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        if before == 0 && unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } == 0 {
            INHERITED.store(before, Ordering::Relaxed);
        }
    }
}

/// Makes `cmd` start with the huge-page setting impact inherited.
pub fn as_inherited(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let inherited = INHERITED.load(Ordering::Relaxed);
        if inherited < 0 {
            return;
        }
        // SAFETY: runs in the child between fork and exec, where only
        // async-signal-safe calls are allowed: prctl is a bare system call,
        // and the closure allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(
                    libc::PR_SET_THP_DISABLE,
                    inherited as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A child started through [`as_inherited`] has huge pages as the
    /// parent had them before [`no_huge_pages`]; this process has them off.
    #[test]
    fn children_get_the_inherited_setting_back() {
        let read_child = |restore: bool| -> String {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "grep THP_enabled /proc/self/status"]);
            if restore {
                as_inherited(&mut cmd);
            }
            String::from_utf8(cmd.output().unwrap().stdout).unwrap()
        };
        let before = read_child(false);
        if !before.contains("THP_enabled:\t1") {
            // Disabled by whoever started the tests, or an old kernel
            // without the field: nothing to observe.
            return;
        }
        no_huge_pages();
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(own.contains("THP_enabled:\t0"), "{own}");
        assert!(read_child(false).contains("THP_enabled:\t0"));
        assert_eq!(read_child(true), before);
    }
}
