//! CPU time by role: the load client's threads against everything else in the process (the
//! service, its database and log writers, the embedded devnet), from Linux's per-thread
//! accounting. The load client shares the machine's cores with the service, so requests a
//! second alone do not say what the service costs; its CPU time per request does.

use std::time::Duration;

/// Names the load client's threads start with.
pub const CLIENT_THREAD: &str = "load-client";

/// CPU time spent so far by the load client and by the rest of the process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    pub client: Duration,
    pub service: Duration,
}

impl CpuTime {
    /// The time spent between `earlier` and `self`.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            client: self.client.saturating_sub(earlier.client),
            service: self.service.saturating_sub(earlier.service),
        }
    }
}

/// Reads every thread's CPU time (`/proc/self/task/*/schedstat`, nanoseconds on the CPU);
/// `None` where the kernel does not keep it. Threads that ended since the last reading are
/// not counted: the bench starts every thread it measures before its first reading and ends
/// them after its last.
pub fn now() -> Option<CpuTime> {
    let mut total = CpuTime::default();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = task.path();
        let Ok(name) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        let Some(nanos) = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        else {
            continue;
        };
        let spent = Duration::from_nanos(nanos);
        if name.trim_end().starts_with(CLIENT_THREAD) {
            total.client += spent;
        } else {
            total.service += spent;
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(until: Duration) {
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < until {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }

    #[test]
    fn a_named_client_thread_is_counted_as_the_client_not_the_service() {
        let Some(before) = now() else {
            // No schedstat on this kernel: nothing to measure (the bench says so).
            return;
        };
        std::thread::Builder::new()
            .name(format!("{CLIENT_THREAD}-test"))
            .spawn(move || {
                spin(Duration::from_millis(60));
                let spent = now().unwrap().since(before);
                assert!(spent.client >= Duration::from_millis(40), "{spent:?}");
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
