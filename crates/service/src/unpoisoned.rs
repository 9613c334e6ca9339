//! One way to take a lock whose holder may have panicked.

use std::sync::{Mutex, MutexGuard};

/// Takes `mutex` even if a thread panicked while holding it.
///
/// Use it only where every critical section leaves the data whole at each step: a map entry
/// inserted or removed, a counter bumped, one SQLite statement (atomic in SQLite). A request
/// that panicked then costs that request, not every later one.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
