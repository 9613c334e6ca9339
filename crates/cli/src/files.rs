//! Files the CLI writes for the user: always new ones, never over an existing file.

use crate::InputError;
use std::path::Path;

/// Writes `text` to a new file at `path`; an existing file is an error, left as it is.
pub fn write_new_file(path: &Path, text: &str) -> Result<(), InputError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| InputError(format!("cannot create {}: {e}", path.display())))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| InputError(format!("cannot write {}: {e}", path.display())))
}
