//! The CLI's error: what the user must fix.

/// A failure the user can fix: printed as one line, exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl<E: std::fmt::Display> From<E> for InputError {
    fn from(error: E) -> Self {
        InputError(error.to_string())
    }
}
