//! Reading a session file (docs/session-format.md) into a spec.

use crate::InputError;
use crate::error::CliError;
use alloy::primitives::Address;
use sessionkeys::SessionTemplate;
use sessionkeys_contracts::session::SessionSpec;
use sessionkeys_engine::explain::Labels;
use sessionkeys_engine::format::parse_session_json;
use std::path::PathBuf;

/// Reads and checks a session file.
pub fn load(file: &PathBuf) -> Result<SessionSpec, InputError> {
    load_with_signer(file, None)
}

/// Reads a session file for review (lint, explain): a file that names its signer is a spec,
/// one that leaves it out (for `grant`, which makes the key) is reviewed as a template.
pub fn load_for_review(file: &PathBuf) -> Result<SessionSpec, InputError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))?;
    let json =
        parse_session_json(&text).map_err(|e| InputError(format!("{}: {e}", file.display())))?;
    match json.signer {
        Some(_) => json.to_spec(None),
        None => SessionTemplate::from_json(json)
            .map(|template| Ok(template.review_spec().clone()))
            .map_err(|e| InputError(format!("{}: {e}", file.display())))?,
    }
    .map_err(|e| InputError(format!("{}: {e}", file.display())))
}

/// Reads a session file for `grant` and `request`: without a signer, since they make the key.
fn load_template(file: &PathBuf) -> Result<SessionTemplate, InputError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))?;
    SessionTemplate::parse(&text).map_err(|e| InputError(format!("{}: {e}", file.display())))
}

/// Reads a session file for `grant` or `request`, prints its explanation (the file's functions
/// by name, and with `rpc` the chain's tokens, as `explain --rpc` names them) and lint findings
/// (text mode), and refuses it on lint errors unless `force` — before any password is asked;
/// the SDK judges again at the chain's time.
pub fn reviewed_template(
    file: &PathBuf,
    force: bool,
    json: bool,
    rpc: Option<&str>,
) -> Result<SessionTemplate, CliError> {
    let template = load_template(file)?;
    let now = crate::onchain::unix_now();
    let verdict = template.ensure_lint_clean(now, force);
    if !json {
        let labels = labels_of(file)?;
        // A refusal needs no node: it is explained with the built-in names only.
        let labels = match (rpc, &verdict) {
            (Some(rpc), Ok(())) => with_chain_tokens(rpc, template.review_spec(), labels)?,
            _ => labels,
        };
        out!("{}", template.explain(&labels));
        for finding in template.lint(now) {
            outln!("{finding}");
        }
    }
    verdict?;
    Ok(template)
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

/// The labels to explain a session file with: the built-in tokens and common functions, and
/// every function the file names by its signature (`"selector": "move(uint8)"`), which the
/// session itself keeps only as 4 bytes.
pub fn labels_of(file: &PathBuf) -> Result<Labels, InputError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| InputError(format!("{}: {e}", file.display())))?;
    let signatures = json["callPolicies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|policy| policy["selector"].as_str())
        .filter(|selector| selector.contains('('));
    Ok(signatures.fold(Labels::well_known(), |labels, signature| {
        labels.with_function(signature)
    }))
}

/// `labels` with the symbols and decimals of the session's tokens the built-in list does not
/// know, read through the node at `rpc`. An unreachable node is an error, not a quietly
/// poorer explanation.
pub fn with_chain_tokens(
    rpc: &str,
    spec: &SessionSpec,
    labels: Labels,
) -> Result<Labels, CliError> {
    let backend = crate::args::rpc_backend(rpc, rpc)?;
    let labels = crate::onchain::block_on(async {
        sessionkeys::Backend::chain_id(&backend).await?;
        Ok::<_, sessionkeys::BackendError>(
            sessionkeys::review::with_chain_tokens(&backend, spec, labels).await,
        )
    })??;
    Ok(labels)
}
