//! Process memory from `/proc/self/status` (Linux; `None` elsewhere).

use serde::Serialize;

/// Resident memory of this process at one moment, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: Option<u64>,
    /// `VmHWM`: peak resident since start or since the last [`reset_peak`].
    pub peak_kib: Option<u64>,
    /// `RssAnon`: the heap part of `VmRSS` (the rest is mapped files, e.g. the index).
    pub anon_kib: Option<u64>,
}

fn field(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Reads the figures now.
pub fn sample() -> Memory {
    match std::fs::read_to_string("/proc/self/status") {
        Ok(status) => Memory {
            rss_kib: field(&status, "VmRSS"),
            peak_kib: field(&status, "VmHWM"),
            anon_kib: field(&status, "RssAnon"),
        },
        Err(_) => Memory::default(),
    }
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0, `clear_refs` 5), so the next peak belongs to
/// the phase that follows. Returns false where that is not possible; peaks then include
/// earlier phases.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nRssAnon:\t 512 kB\n";
        assert_eq!(field(status, "VmHWM"), Some(2048));
        assert_eq!(field(status, "VmRSS"), Some(1024));
        assert_eq!(field(status, "RssAnon"), Some(512));
        assert_eq!(field(status, "VmSwap"), None);
    }
}
