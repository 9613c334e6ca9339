//! Where a keystore password comes from: a file, an environment variable, or a prompt.
//!
//! # Security
//! Passwords are held only as long as needed and never printed, logged or put in errors.

use std::path::PathBuf;

/// A password's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// The first line of a file.
    File(PathBuf),
    /// An environment variable's value.
    Env(String),
    /// Asked on the terminal, without echo.
    Prompt,
}

/// Why no password could be had. Never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The file cannot be read.
    #[error("cannot read the password file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// The variable is not set.
    #[error("the environment variable {0} that should hold the password is not set")]
    EnvUnset(String),
    /// The terminal prompt failed (no terminal, for instance).
    #[error("cannot ask for a password ({0}); give --password-file or --password-env instead")]
    Prompt(String),
}

impl PasswordSource {
    /// Reads the password. A file's trailing newline is not part of it.
    pub fn read(&self, prompt: &str) -> Result<Vec<u8>, PasswordError> {
        match self {
            Self::File(path) => {
                let text = std::fs::read(path).map_err(|e| PasswordError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                let line = text.split(|b| *b == b'\n').next().unwrap_or_default();
                Ok(line.strip_suffix(b"\r").unwrap_or(line).to_vec())
            }
            Self::Env(name) => std::env::var_os(name)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| PasswordError::EnvUnset(name.clone())),
            Self::Prompt => rpassword::prompt_password(prompt)
                .map(String::into_bytes)
                .map_err(|e| PasswordError::Prompt(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_file_gives_its_first_line_without_the_newline() {
        let dir = std::env::temp_dir().join(format!("sk-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pw");
        std::fs::write(&path, b"correct horse\r\nsecond line\n").unwrap();
        assert_eq!(
            PasswordSource::File(path).read("").unwrap(),
            b"correct horse".to_vec()
        );
    }

    #[test]
    fn a_missing_file_is_named_and_the_error_holds_no_password() {
        let error = PasswordSource::File("/nonexistent/pw".into())
            .read("")
            .unwrap_err();
        assert!(error.to_string().contains("/nonexistent/pw"));
    }

    #[test]
    fn an_unset_variable_is_named() {
        let error = PasswordSource::Env("SESSIONKEYS_TEST_UNSET_PASSWORD_VAR".into())
            .read("")
            .unwrap_err();
        assert_eq!(
            error,
            PasswordError::EnvUnset("SESSIONKEYS_TEST_UNSET_PASSWORD_VAR".into())
        );
    }
}
