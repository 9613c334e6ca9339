//! test
#![allow(missing_docs)]
pub mod t {
    alloy::sol!("../../contracts/src/SessionTypes.sol");
}
