//! A mutex whose lock counts how long it has been held: for a resource that runs one caller
//! at a time (the devnet, a SQLite connection), held time ÷ elapsed time is how busy it was,
//! and near 1 it is what bounds the rate (the service's load bench reports both).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A mutex that adds up the time its guard is held.
#[derive(Debug, Default)]
pub struct TimedMutex<T> {
    inner: Mutex<T>,
    /// Nanoseconds held, in all.
    held: AtomicU64,
}

/// The guard of a [`TimedMutex`]: adds the time it was held when dropped.
pub struct Held<'a, T> {
    guard: MutexGuard<'a, T>,
    since: Instant,
    held: &'a AtomicU64,
}

impl<T> TimedMutex<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self {
            inner: Mutex::new(value),
            held: AtomicU64::new(0),
        }
    }

    /// Locks it. A poisoned lock is taken all the same: the callers here change what they
    /// guard in single steps (one revm commit, one SQLite statement), never half-way.
    pub fn lock(&self) -> Held<'_, T> {
        let guard = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Held {
            guard,
            since: Instant::now(),
            held: &self.held,
        }
    }

    /// How long it has been held, in all, since it was made.
    pub fn held(&self) -> Duration {
        Duration::from_nanos(self.held.load(Ordering::Relaxed))
    }
}

impl<T> Drop for Held<'_, T> {
    fn drop(&mut self) {
        let nanos = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.held.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for Held<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_a_guard_is_held_is_added_up_and_time_unlocked_is_not() {
        let mutex = TimedMutex::new(0u32);
        {
            let mut guard = mutex.lock();
            *guard += 1;
            std::thread::sleep(Duration::from_millis(30));
        }
        std::thread::sleep(Duration::from_millis(30));
        let held = mutex.held();
        assert!(held >= Duration::from_millis(30), "{held:?}");
        assert!(held < Duration::from_millis(60), "{held:?}");
        assert_eq!(*mutex.lock(), 1);
    }
}
