//! `SessionTemplate`: a session file's spec before its key exists. The key is made only when
//! the session is requested or granted, so until then the spec can be reviewed (lint,
//! explain, its end) but not signed, hashed or enabled: those need a [`SessionSpec`], which
//! only [`SessionTemplate::with_signer`] gives.

use crate::error::SdkError;
use alloy::primitives::Address;
use sessionkeys_contracts::session::SessionSpec;
use sessionkeys_engine::explain::{Explanation, Labels};
use sessionkeys_engine::format::{FormatError, SessionJson, parse_session_json};
use sessionkeys_engine::lint::{Finding, Severity};

/// Why a session file cannot be a template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The JSON does not parse or a value is out of range (docs/session-format.md).
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The file names a signer: every session gets a fresh key made here.
    #[error("remove \"signer\": sessionkeys makes a fresh key for every session")]
    HasSigner,
}

/// A session spec whose key is not made yet.
#[derive(Debug, Clone)]
pub struct SessionTemplate {
    json: SessionJson,
    /// The spec with the zero address as signer, for review only: lint and explain do not read
    /// the signer, and a zero signer can never be enabled (the validator refuses it).
    review: SessionSpec,
}

impl SessionTemplate {
    /// A template from a session file's text (docs/session-format.md), without `"signer"`.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        Self::from_json(parse_session_json(text)?)
    }

    /// A template from a parsed session file, without `"signer"`.
    pub fn from_json(json: SessionJson) -> Result<Self, TemplateError> {
        if json.signer.is_some() {
            return Err(TemplateError::HasSigner);
        }
        // Any non-zero address checks every other field; the zero address then marks the
        // review copy as keyless.
        let mut review = json.to_spec(Some(Address::with_last_byte(1)))?;
        review.signer = Address::ZERO;
        Ok(Self { json, review })
    }

    /// The spec for the key `signer`: what the owner approves and the validator enables.
    pub fn with_signer(&self, signer: Address) -> Result<SessionSpec, SdkError> {
        self.json
            .to_spec(Some(signer))
            .map_err(|e| SdkError::Template(TemplateError::Format(e)))
    }

    /// The keyless copy for review (lint, explain, naming its tokens): its signer is the zero
    /// address, which the validator never enables.
    pub fn review_spec(&self) -> &SessionSpec {
        &self.review
    }

    /// Lint findings at `now` (docs/lint.md).
    pub fn lint(&self, now: u64) -> Vec<Finding> {
        sessionkeys_engine::lint::lint(&self.review, now)
    }

    /// The plain-English explanation the owner approves.
    pub fn explain(&self, labels: &Labels) -> Explanation {
        sessionkeys_engine::explain::explain(&self.review, labels)
    }

    /// Refuses the template when lint finds errors at `now`, unless `allow` (the caller showed
    /// them to the owner, who accepts them).
    pub fn ensure_lint_clean(&self, now: u64, allow: bool) -> Result<(), SdkError> {
        let count = self
            .lint(now)
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        if count > 0 && !allow {
            return Err(SdkError::LintErrors { count });
        }
        Ok(())
    }

    /// When the session ends (unix seconds).
    pub fn valid_until(&self) -> u64 {
        self.review.validUntil.to()
    }

    /// Refuses a session that has already ended at `now`: it could never be used, yet enabling
    /// it would cost an op and list it as granted.
    pub fn ensure_not_expired(&self, now: u64) -> Result<(), SdkError> {
        ensure_not_ended(self.valid_until(), now)
    }
}

/// Refuses a session that ends at `valid_until` when the chain's time is `now` or later:
/// checked at request and again at approval, which may come much later.
pub fn ensure_not_ended(valid_until: u64, now: u64) -> Result<(), SdkError> {
    if valid_until <= now {
        return Err(SdkError::SessionExpired { valid_until, now });
    }
    Ok(())
}
