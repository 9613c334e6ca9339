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

/// Reads the process's CPU time (`/proc/self/stat`: every thread's, ended ones included) and
/// the load client's threads' (`/proc/self/task/*/schedstat`, nanoseconds on the CPU); the
/// service's is the difference. `None` where the kernel keeps neither. The client's threads
/// are alive at both readings (the bench starts them before the first and ends them after the
/// second), so none of theirs is missed.
pub fn now() -> Option<CpuTime> {
    let process = process_cpu()?;
    let mut client = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = task.path();
        let Ok(name) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        if !name.trim_end().starts_with(CLIENT_THREAD) {
            continue;
        }
        let nanos = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())?;
        client += Duration::from_nanos(nanos);
    }
    Some(CpuTime {
        client,
        service: process.saturating_sub(client),
    })
}

/// User and system time of the whole process, in clock ticks of 10 ms (Linux's `USER_HZ`).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let ticks = |field: usize| fields.get(field)?.parse::<u64>().ok();
    // utime and stime are the 14th and 15th fields; the state (3rd) is fields[0].
    let total = ticks(11)?.checked_add(ticks(12)?)?;
    Some(Duration::from_millis(total.checked_mul(10)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests read the whole process's CPU time: one at a time, or each would count the
    /// other's threads.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// This thread's time on the CPU so far (`/proc/thread-self/schedstat`).
    fn thread_cpu() -> Option<Duration> {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        Some(Duration::from_nanos(
            text.split_whitespace().next()?.parse().ok()?,
        ))
    }

    /// Spends `cpu` of this thread's CPU time: on a loaded machine that takes longer than
    /// `cpu` of wall time, and the assertions are about CPU time.
    fn spin(cpu: Duration) {
        let started = std::time::Instant::now();
        let from = thread_cpu();
        let mut x = 0u64;
        loop {
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            let done = match (from, thread_cpu()) {
                (Some(from), Some(now)) => now.saturating_sub(from) >= cpu,
                _ => started.elapsed() >= cpu,
            };
            if done {
                break;
            }
        }
    }

    #[test]
    fn the_service_is_charged_for_threads_that_ended_between_two_readings() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let Some(before) = now() else {
            return;
        };
        std::thread::spawn(|| spin(Duration::from_millis(100)))
            .join()
            .unwrap();
        let spent = now().unwrap().since(before);
        assert!(spent.service >= Duration::from_millis(60), "{spent:?}");
    }

    #[test]
    fn a_named_client_thread_is_counted_as_the_client_not_the_service() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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
