//! Reading a session file (docs/session-format.md) into a spec.

use crate::InputError;
use alloy::primitives::Address;
use sessionkeys::SessionTemplate;
use sessionkeys_contracts::session::SessionSpec;
use sessionkeys_engine::explain::Labels;
use sessionkeys_engine::format::parse_session_json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Reads and checks a session file.
pub fn load(file: &PathBuf) -> Result<SessionSpec, InputError> {
    load_with_signer(file, None)
}

/// Reads a session file for review (lint, explain): a left-out signer, which `grant` makes,
/// does not matter to either, so a placeholder stands in.
pub fn load_for_review(file: &PathBuf) -> Result<SessionSpec, InputError> {
    load_with_signer(file, Some(Address::repeat_byte(1)))
}

/// Reads a session file for `grant` and `request`: without a signer, since they make the key.
fn load_template(file: &PathBuf) -> Result<SessionTemplate, InputError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))?;
    SessionTemplate::parse(&text).map_err(|e| InputError(format!("{}: {e}", file.display())))
}

/// Reads a session file for `grant` or `request`, prints its explanation and lint findings
/// (text mode), and refuses it (`Err(exit code)`) on lint errors unless `force` — before any
/// password is asked; the SDK judges again at the chain's time.
pub fn reviewed_template(
    file: &PathBuf,
    force: bool,
    json: bool,
) -> Result<Result<SessionTemplate, ExitCode>, InputError> {
    let template = load_template(file)?;
    let now = crate::onchain::unix_now();
    if !json {
        out!("{}", template.explain(&Labels::well_known()));
        for finding in template.lint(now) {
            outln!("{finding}");
        }
    }
    Ok(match template.ensure_lint_clean(now, force) {
        Ok(()) => Ok(template),
        Err(error) => Err(crate::onchain::outcome(error)?),
    })
}

/// Reads and checks a session file; `signer` fills in a left-out signer.
pub fn load_with_signer(
    file: &PathBuf,
    signer: Option<Address>,
) -> Result<SessionSpec, InputError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))?;
    let session =
        parse_session_json(&text).map_err(|e| InputError(format!("{}: {e}", file.display())))?;
    session
        .to_spec(signer)
        .map_err(|e| InputError(format!("{}: {e}", file.display())))
}
