//! This process's resident memory, from /proc/self/status (Linux).

use std::time::Duration;

use tokio::sync::watch;

/// `VmRSS` (now) and `VmHWM` (peak since start or since [`reset_peak`]) in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resident {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

pub(crate) fn resident() -> Option<Resident> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(Resident { rss_kib: field_kib(&status, "VmRSS:")?, hwm_kib: field_kib(&status, "VmHWM:")? })
}

fn field_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find_map(|line| line.strip_prefix(name))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// Resets `VmHWM` to the current RSS (writing 5 to /proc/self/clear_refs, Linux 4.0+).
pub(crate) fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Samples `VmRSS` every `interval` until stopped; returns the largest sample in KiB.
pub(crate) struct RssSampler {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<u64>,
}

impl RssSampler {
    pub fn start(interval: Duration) -> RssSampler {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut peak_kib = 0;
            loop {
                if let Some(now) = resident() {
                    peak_kib = peak_kib.max(now.rss_kib);
                }
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(interval) => {}
                }
            }
            if let Some(now) = resident() {
                peak_kib = peak_kib.max(now.rss_kib);
            }
            peak_kib
        });
        RssSampler { stop, task }
    }

    pub async fn stop(self) -> Option<u64> {
        let _ = self.stop.send(true);
        self.task.await.ok().filter(|&kib| kib > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields() {
        let status = "Name:\tx\nVmHWM:\t  20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(field_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(field_kib(status, "VmRSS:"), Some(10240));
        assert_eq!(field_kib(status, "VmSwap:"), None);
    }
}
