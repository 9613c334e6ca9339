//! Readable constructors and typed readers of the `sol!` structs, so code says
//! `UsageLimit::lifetime(100)` and `Constraint::one_of(0, …)` instead of numbered fields.

use super::words::{Condition, CounterKind, LimitType, PaymasterMode, UnknownWord};
use crate::session::{Constraint, CounterUsage, SessionSpec, UsageLimit};
use alloy::primitives::{B256, U256, aliases::U48};

impl UsageLimit {
    /// A limit of any type; `period` is 0 unless an allowance.
    pub fn new(limit_type: LimitType, limit: U256, period: u64) -> Self {
        Self {
            limitType: limit_type.into(),
            limit,
            period: U48::from(period),
        }
    }

    /// No budget.
    pub fn unlimited() -> Self {
        Self::new(LimitType::Unlimited, U256::ZERO, 0)
    }

    /// `limit` in total over the session's life.
    pub fn lifetime(limit: u64) -> Self {
        Self::new(LimitType::Lifetime, U256::from(limit), 0)
    }

    /// `limit` per fixed window of `period` seconds (at least [`super::MIN_PERIOD`]).
    pub fn allowance(limit: u64, period: u64) -> Self {
        Self::new(LimitType::Allowance, U256::from(limit), period)
    }

    /// The limit's type, or the unknown number it carries.
    pub fn limit_type(&self) -> Result<LimitType, UnknownWord> {
        LimitType::try_from(self.limitType)
    }

    /// Whether this is no budget at all.
    pub fn is_unlimited(&self) -> bool {
        self.limit_type() == Ok(LimitType::Unlimited)
    }
}

impl Constraint {
    /// A full-width (256-bit) constraint on word `index` with no list.
    pub fn new(condition: Condition, index: u32, reference: B256, limit: UsageLimit) -> Self {
        Self {
            condition: condition.into(),
            index,
            bits: 256,
            refValue: reference,
            oneOf: vec![],
            limit,
        }
    }

    /// Word `index` may be anything (a budget on its sum can be added with [`Self::with_limit`]).
    pub fn unconstrained(index: u32) -> Self {
        Self::new(
            Condition::Unconstrained,
            index,
            B256::ZERO,
            UsageLimit::unlimited(),
        )
    }

    /// Word `index` must equal `reference`.
    pub fn equal(index: u32, reference: B256) -> Self {
        Self::new(Condition::Equal, index, reference, UsageLimit::unlimited())
    }

    /// Word `index` must differ from `reference`.
    pub fn not_equal(index: u32, reference: B256) -> Self {
        Self::new(
            Condition::NotEqual,
            index,
            reference,
            UsageLimit::unlimited(),
        )
    }

    /// Word `index` must be greater than `reference`.
    pub fn greater(index: u32, reference: B256) -> Self {
        Self::new(
            Condition::Greater,
            index,
            reference,
            UsageLimit::unlimited(),
        )
    }

    /// Word `index` must be less than `reference`.
    pub fn less(index: u32, reference: B256) -> Self {
        Self::new(Condition::Less, index, reference, UsageLimit::unlimited())
    }

    /// Word `index` must be at least `reference`.
    pub fn at_least(index: u32, reference: B256) -> Self {
        Self::new(
            Condition::GreaterOrEqual,
            index,
            reference,
            UsageLimit::unlimited(),
        )
    }

    /// Word `index` must be at most `reference`.
    pub fn at_most(index: u32, reference: B256) -> Self {
        Self::new(
            Condition::LessOrEqual,
            index,
            reference,
            UsageLimit::unlimited(),
        )
    }

    /// Word `index` must be one of `values` (1 to [`super::MAX_ONE_OF`]).
    pub fn one_of(index: u32, values: Vec<B256>) -> Self {
        Self {
            oneOf: values,
            ..Self::new(Condition::OneOf, index, B256::ZERO, UsageLimit::unlimited())
        }
    }

    /// The same constraint with a budget on the running sum of its word.
    pub fn with_limit(self, limit: UsageLimit) -> Self {
        Self { limit, ..self }
    }

    /// The same constraint on a word of `bits` bits (1 to 256).
    pub fn with_bits(self, bits: u16) -> Self {
        Self { bits, ..self }
    }

    /// The condition, or the unknown number it carries.
    pub fn condition(&self) -> Result<Condition, UnknownWord> {
        Condition::try_from(self.condition)
    }
}

impl SessionSpec {
    /// The paymaster mode, or the unknown number it carries.
    pub fn paymaster_mode(&self) -> Result<PaymasterMode, UnknownWord> {
        PaymasterMode::try_from(self.paymasterMode)
    }
}

impl CounterUsage {
    /// Which budget the row is, or the unknown number it carries.
    pub fn counter_kind(&self) -> Result<CounterKind, UnknownWord> {
        CounterKind::try_from(self.kind)
    }

    /// The budget's limit type, or the unknown number it carries.
    pub fn limit_type(&self) -> Result<LimitType, UnknownWord> {
        LimitType::try_from(self.limitType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_write_the_contract_numbers() {
        let limit = UsageLimit::allowance(5, 3600);
        assert_eq!(limit.limit_type(), Ok(LimitType::Allowance));
        assert_eq!(limit.limitType, LimitType::Allowance.code());
        assert_eq!(limit.period, U48::from(3600));
        let list = Constraint::one_of(0, vec![B256::repeat_byte(1)]);
        assert_eq!(list.condition(), Ok(Condition::OneOf));
        assert_eq!(list.bits, 256);
        let sum = Constraint::unconstrained(1).with_limit(UsageLimit::lifetime(9));
        assert_eq!(sum.limit.limit, U256::from(9));
    }
}
