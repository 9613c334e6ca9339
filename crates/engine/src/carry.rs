//! Which policies a use-mode op carries (docs/compact-signatures.md): exactly those its calls
//! match, found as the validator finds them, so the signature carries nothing the op does not use
//! (`PolicyNotUsed`) and nothing a call needs is missing.

use crate::execute::{CallRef, decode_execute};
use sessionkeys_contracts::session::SessionSpec;

/// The leaf positions (calls first, then transfers) of the policies the calls of `call_data`
/// match, sorted and without repeats. Calls that match no policy (a self-revoke, a refused call)
/// add none; callData the validator refuses carries none.
pub fn carried_positions(spec: &SessionSpec, call_data: &[u8]) -> Vec<usize> {
    let Ok(calls) = decode_execute(call_data) else {
        return Vec::new();
    };
    let mut positions: Vec<usize> = calls
        .iter()
        .filter_map(|call| policy_position(spec, call))
        .collect();
    positions.sort_unstable();
    positions.dedup();
    positions
}

/// The leaf position of the policy `call` matches: a transfer policy by target for empty
/// calldata, a call policy by target and selector otherwise.
fn policy_position(spec: &SessionSpec, call: &CallRef<'_>) -> Option<usize> {
    if call.data.is_empty() {
        return spec
            .transferPolicies
            .iter()
            .position(|p| p.target == call.target)
            .map(|p| spec.callPolicies.len() + p);
    }
    let selector = call.data.get(..4)?;
    spec.callPolicies
        .iter()
        .position(|p| p.target == call.target && p.selector.as_slice() == selector)
}
