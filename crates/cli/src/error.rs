//! The CLI's one error: every way a command ends other than done, and the one place that
//! decides the exit code (0 done, 1 refused, 2 bad input or usage, 3 the engine and the
//! contract disagree) and how the failure is printed, as text or as JSON.

use sessionkeys::aa_codes::aa_advice;
use sessionkeys::{BackendError, SdkError};

/// A failure the user can fix: the message of [`CliError::Input`]. Any displayable error
/// converts into it, so helpers can use `?` on file, parse and store errors.
#[derive(Debug)]
pub struct InputError(pub String);

impl<E: std::fmt::Display> From<E> for InputError {
    fn from(error: E) -> Self {
        InputError(error.to_string())
    }
}

/// How a command did not finish with "done".
#[derive(Debug)]
pub enum CliError {
    /// Bad input or usage: a flag, a file, a URL or the environment to fix (exit 2).
    Input(String),
    /// Refused before anything was paid for, e.g. lint errors in a grant (exit 1).
    Refused(String),
    /// Refused, and the command's report (one line or JSON entry per op) already said why
    /// (exit 1).
    RefusedReported,
    /// The engine and the contract disagree, already reported op by op (exit 3).
    DisagreementReported,
    /// Bad input or an unreachable service, already reported with the ops before it (exit 2).
    ErrorReported,
    /// What the SDK said: a refusal by the engine, the bundler or the chain is exit 1;
    /// a node or bundler that is unreachable, slow or the wrong kind is exit 2.
    Sdk(SdkError),
}

impl From<InputError> for CliError {
    fn from(error: InputError) -> Self {
        CliError::Input(error.0)
    }
}

impl From<SdkError> for CliError {
    fn from(error: SdkError) -> Self {
        CliError::Sdk(error)
    }
}

impl From<BackendError> for CliError {
    fn from(error: BackendError) -> Self {
        CliError::Sdk(SdkError::Backend(error))
    }
}

/// Errors of reading the user's files and flags: each is bad input (exit 2).
macro_rules! input_errors {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for CliError {
            fn from(error: $error) -> Self {
                CliError::Input(error.to_string())
            }
        }
    )*};
}

input_errors!(
    sessionkeys::store::StoreError,
    sessionkeys_engine::format::FormatError,
    sessionkeys_chain::ChainError,
    sessionkeys_devnet::DevnetError,
    sessionkeys::template::TemplateError,
    sessionkeys_keystore::KeystoreError,
    serde_json::Error,
    sessionkeys_contracts::vocabulary::packed::UnencodableSpec,
);

/// ERC-7769's "method not found": the URL given as the bundler serves no ERC-4337 methods.
const METHOD_NOT_FOUND: i64 = -32601;

/// The ERC-4337 methods only a bundler serves (ERC-7769).
const BUNDLER_METHODS: [&str; 4] = [
    "eth_sendUserOperation",
    "eth_estimateUserOperationGas",
    "eth_getUserOperationReceipt",
    "eth_supportedEntryPoints",
];

/// Whether the URL given as the bundler answered that it has no ERC-4337 methods: a node given
/// as `--bundler`, which is a usage error, not a refusal of the op.
fn is_not_a_bundler(error: &SdkError) -> bool {
    match error {
        SdkError::BundlerRefused { code, .. } => *code == METHOD_NOT_FOUND,
        SdkError::Backend(BackendError::Rpc { code, method, .. }) => {
            *code == METHOD_NOT_FOUND && BUNDLER_METHODS.contains(&method.as_str())
        }
        _ => false,
    }
}

/// Whether an SDK error is a refusal (exit 1) rather than something to fix (exit 2).
fn is_refusal(error: &SdkError) -> bool {
    if is_not_a_bundler(error) {
        return false;
    }
    matches!(
        error,
        SdkError::BundlerRefused { .. }
            | SdkError::Refused { .. }
            | SdkError::LaneTaken { .. }
            | SdkError::OutOfTimeRange { .. }
            | SdkError::ExecutionReverted { .. }
            | SdkError::SessionExpired { .. }
            | SdkError::LintErrors { .. }
            | SdkError::ApprovalStale { .. }
    )
}

impl CliError {
    /// The exit code: the one place 1, 2 and 3 are decided.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) | CliError::ErrorReported => 2,
            CliError::Refused(_) | CliError::RefusedReported => 1,
            CliError::DisagreementReported => 3,
            CliError::Sdk(error) if is_refusal(error) => 1,
            CliError::Sdk(_) => 2,
        }
    }
}

/// The exit code of a command's result: 0 when it is done, else its error's.
pub fn exit_code(result: &Result<(), CliError>) -> u8 {
    result.as_ref().err().map_or(0, CliError::exit_code)
}

/// A failure as the user reads it: a sentence, and what to do next when that is known.
pub struct Report {
    /// `"error"` (fix something) or `"refused"`.
    pub outcome: &'static str,
    /// The validator's error name, when the refusal named one.
    pub error: Option<String>,
    /// What went wrong.
    pub reason: String,
    /// What to do next, if known.
    pub next: Option<String>,
}

/// The report of a failure; `None` when the command already reported it.
pub fn report(error: &CliError) -> Option<Report> {
    let (outcome, error_name, reason, next) = match error {
        CliError::RefusedReported | CliError::DisagreementReported | CliError::ErrorReported => {
            return None;
        }
        CliError::Input(message) => ("error", None, message.clone(), None),
        CliError::Refused(message) => ("refused", None, message.clone(), None),
        CliError::Sdk(sdk) if is_not_a_bundler(sdk) => (
            "error",
            None,
            format!("the URL given as the bundler is not an ERC-4337 bundler: {sdk}"),
            Some(
                "give the bundler's URL as --bundler (SESSIONKEYS_BUNDLER_URL); the node's URL \
                 goes to --rpc"
                    .to_string(),
            ),
        ),
        CliError::Sdk(sdk) => {
            let outcome = if is_refusal(sdk) { "refused" } else { "error" };
            let name = refusal_name(sdk);
            (outcome, name, sdk.to_string(), next_step(sdk))
        }
    };
    Some(Report {
        outcome,
        error: error_name,
        reason,
        next,
    })
}

/// What to do about an SDK error, when the CLI knows: an EntryPoint code's next step, or the
/// flag for a slow node.
fn next_step(error: &SdkError) -> Option<String> {
    if let SdkError::Backend(BackendError::TimedOut { .. }) = error {
        return Some(
            "check that the URL is the node's (or bundler's) JSON-RPC endpoint and that it \
             works; a slow one may be given longer with --rpc-timeout SECONDS \
             (SESSIONKEYS_RPC_TIMEOUT)"
                .to_string(),
        );
    }
    entry_point_advice(error)
}

/// The validator error a refusal names: the engine's, or the one a bundler's refusal carries
/// (an op sent without the engine's pre-check).
pub fn refusal_name(error: &SdkError) -> Option<String> {
    match error {
        SdkError::Refused { violation } => Some(violation.name().to_string()),
        SdkError::BundlerRefused {
            reason: Some(reason),
            ..
        } => match reason.as_ref() {
            sessionkeys_chain::RevertReason::Validator(error) => Some(
                sessionkeys_engine::Violation::Validator(Box::new(error.clone()))
                    .name()
                    .to_string(),
            ),
            _ => None,
        },
        _ => None,
    }
}

/// The meaning and next step of the EntryPoint code in a bundler's or node's message — read
/// only from what they said, never from our own sentences (which may quote a code, as
/// `LaneTaken` quotes AA25, or hold an address with "AA" and digits in it).
pub fn entry_point_advice(error: &SdkError) -> Option<String> {
    let said = match error {
        SdkError::BundlerRefused { message, .. } => message,
        SdkError::Backend(BackendError::Rpc { message, .. }) => message,
        _ => return None,
    };
    aa_advice(said).map(|a| format!("{} {}", a.meaning, a.next))
}

/// Prints a failure: `error: …` / `refused: …` (and `next: …`) on stderr, or with `json` one
/// object on stdout with the fields `outcome`, `error` (only when named), `reason`, `next`
/// (only when known) and `exitCode`.
pub fn print(error: &CliError, json: bool, code: u8) {
    let Some(report) = report(error) else {
        return;
    };
    if json {
        let mut object = serde_json::json!({
            "outcome": report.outcome,
            "reason": report.reason,
            "exitCode": code,
        });
        if let Some(name) = report.error {
            object["error"] = name.into();
        }
        if let Some(next) = report.next {
            object["next"] = next.into();
        }
        outln!("{object}");
    } else {
        errln!("{}: {}", report.outcome, report.reason);
        if let Some(next) = report.next {
            errln!("next: {next}");
        }
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
