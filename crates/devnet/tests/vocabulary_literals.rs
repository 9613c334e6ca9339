//! No integer literal stands for a contract word outside `crates/contracts/src/vocabulary`: the
//! whole workspace (src, tests, benches, examples, fuzz) is parsed with `syn` and every integer
//! literal compared with, matched against or assigned to a limit type, condition, paymaster
//! mode, signature mode, status, counter kind or review status is reported as `file:line`.
//! Write the typed word instead (`LimitType::Lifetime`, `u8::from(CounterKind::Fee)`, …).

use proc_macro2::Span;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{BinOp, Expr, Lit, Member, Pat, Token};

/// Names under which the words travel: the `sol!` fields, their snake-case forms, and the
/// parameters and variables that carry them.
const WORD_NAMES: &[&str] = &[
    "limitType",
    "limit_type",
    "condition",
    "paymasterMode",
    "paymaster_mode",
    "mode",
    "status",
    "kind",
    "reviewStatus",
    "review_status",
];

/// Prefixes of the Solidity constants: a Rust `const` with one of them re-types a word.
const SOL_PREFIXES: &[&str] = &[
    "LIMIT_",
    "COND_",
    "PAYMASTER_",
    "MODE_",
    "STATUS_",
    "COUNTER_",
    "REVIEW_",
];

/// Types a word parameter has: the raw `u8` or the vocabulary's own (a `mode: u32` is a file
/// mode, not a word).
const WORD_TYPES: &[&str] = &[
    "u8",
    "LimitType",
    "Condition",
    "PaymasterMode",
    "SignatureMode",
    "Status",
    "CounterKind",
    "ReviewStatus",
];

/// Argument-less conversions that keep a word a word (`kind.into()`, `mode.clone()`); others,
/// such as an exit status's `.code()`, make something else.
const CONVERSIONS: &[&str] = &["into", "to", "clone", "unwrap", "to_owned", "as_u8"];

/// Where the words are defined: the only place their numbers may be written.
const VOCABULARY: &str = "crates/contracts/src/vocabulary/";

fn is_word_name(name: &str) -> bool {
    WORD_NAMES.contains(&name)
}

/// A function that takes a word: literals passed in that position are findings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Helper {
    /// The impl's type for associated functions and methods.
    owner: Option<String>,
    name: String,
    /// Argument position, not counting `self`.
    index: usize,
    /// How many arguments it takes (not counting `self`): a call with another count is another
    /// function of the same name.
    arity: usize,
    has_self: bool,
    /// A closure bound by `let`: known in its own file only.
    local: bool,
}

/// One literal in a word's place.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    line: usize,
    what: String,
}

fn last_ident(path: &syn::Path) -> Option<String> {
    path.segments.last().map(|s| s.ident.to_string())
}

fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => last_ident(&p.path),
        _ => None,
    }
}

/// Collects the functions of a file that take a word parameter.
#[derive(Default)]
struct HelperCollector {
    owner: Option<String>,
    helpers: BTreeSet<Helper>,
}

impl HelperCollector {
    fn signature(&mut self, sig: &syn::Signature) {
        let has_self = sig.receiver().is_some();
        let arity = sig.inputs.len() - usize::from(has_self);
        let typed = sig.inputs.iter().filter_map(|input| match input {
            syn::FnArg::Typed(t) => Some(t),
            syn::FnArg::Receiver(_) => None,
        });
        for (index, arg) in typed.enumerate() {
            if let Pat::Ident(ident) = arg.pat.as_ref()
                && is_word_name(&ident.ident.to_string())
                && type_name(&arg.ty).is_some_and(|ty| WORD_TYPES.contains(&ty.as_str()))
            {
                self.helpers.insert(Helper {
                    owner: self.owner.clone(),
                    name: sig.ident.to_string(),
                    index,
                    arity,
                    has_self,
                    local: false,
                });
            }
        }
    }
}

impl<'ast> Visit<'ast> for HelperCollector {
    /// `let set = |target, status| …`: a closure taking a word is a helper too.
    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let (Pat::Ident(name), Some(init)) = (&local.pat, &local.init)
            && let Expr::Closure(closure) = init.expr.as_ref()
        {
            for (index, input) in closure.inputs.iter().enumerate() {
                let (pat, ty) = match input {
                    Pat::Type(t) => (t.pat.as_ref(), type_name(&t.ty)),
                    other => (other, None),
                };
                if let Pat::Ident(ident) = pat
                    && is_word_name(&ident.ident.to_string())
                    && ty.is_none_or(|ty| WORD_TYPES.contains(&ty.as_str()))
                {
                    self.helpers.insert(Helper {
                        owner: None,
                        name: name.ident.to_string(),
                        index,
                        arity: closure.inputs.len(),
                        has_self: false,
                        local: true,
                    });
                }
            }
        }
        visit::visit_local(self, local);
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        let outer = self.owner.take();
        self.signature(&f.sig);
        visit::visit_item_fn(self, f);
        self.owner = outer;
    }
    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        let outer = self
            .owner
            .replace(type_name(&i.self_ty).unwrap_or_default());
        visit::visit_item_impl(self, i);
        self.owner = outer;
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.signature(&f.sig);
        visit::visit_impl_item_fn(self, f);
    }
    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        self.signature(&f.sig);
        visit::visit_trait_item_fn(self, f);
    }
}

/// The name a word-carrying expression goes by: `x.kind`, `kind`, `x.status()`, `row["kind"]`,
/// through casts, references, parentheses, argument-less conversions (`.into()`, `.clone()`)
/// and `u8::from(x.kind)` / `Into::into(x.kind)`.
fn word_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Paren(e) => word_name(&e.expr),
        Expr::Group(e) => word_name(&e.expr),
        Expr::Cast(e) => word_name(&e.expr),
        Expr::Reference(e) => word_name(&e.expr),
        Expr::Unary(e) if matches!(e.op, syn::UnOp::Deref(_)) => word_name(&e.expr),
        Expr::Field(e) => match &e.member {
            Member::Named(name) if is_word_name(&name.to_string()) => Some(name.to_string()),
            _ => None,
        },
        Expr::Path(p) if p.path.segments.len() == 1 => {
            last_ident(&p.path).filter(|name| is_word_name(name))
        }
        Expr::MethodCall(call) => {
            let method = call.method.to_string();
            if is_word_name(&method) {
                Some(method)
            } else if call.args.is_empty() && CONVERSIONS.contains(&method.as_str()) {
                word_name(&call.receiver)
            } else {
                None
            }
        }
        Expr::Call(call) if call.args.len() == 1 => match call.func.as_ref() {
            Expr::Path(p) if matches!(last_ident(&p.path).as_deref(), Some("from" | "into")) => {
                word_name(&call.args[0])
            }
            _ => None,
        },
        Expr::Index(index) => match index.index.as_ref() {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(key), ..
            }) if is_word_name(&key.value()) => Some(key.value()),
            _ => None,
        },
        _ => None,
    }
}

/// The integer literal an expression is, through casts, parentheses, references and `Some(…)`.
fn int_literal(expr: &Expr) -> Option<&syn::LitInt> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(int), ..
        }) => Some(int),
        Expr::Paren(e) => int_literal(&e.expr),
        Expr::Group(e) => int_literal(&e.expr),
        Expr::Cast(e) => int_literal(&e.expr),
        Expr::Reference(e) => int_literal(&e.expr),
        Expr::Call(call) if call.args.len() == 1 => match call.func.as_ref() {
            Expr::Path(p) if last_ident(&p.path).as_deref() == Some("Some") => {
                int_literal(&call.args[0])
            }
            _ => None,
        },
        // `kind % 4` hard-codes how many words there are as surely as `4` alone names one;
        // an offset from the vocabulary itself (`Condition::UNKNOWN + 1`) does not.
        Expr::Binary(e)
            if is_arithmetic(&e.op)
                && !names_a_word_type(&e.left)
                && !names_a_word_type(&e.right) =>
        {
            int_literal(&e.left).or_else(|| int_literal(&e.right))
        }
        _ => None,
    }
}

/// Whether an expression reads the vocabulary (`Condition::UNKNOWN`, `Status::ALL.len()`).
fn names_a_word_type(expr: &Expr) -> bool {
    match expr {
        Expr::Path(p) => p
            .path
            .segments
            .iter()
            .any(|s| s.ident != "u8" && WORD_TYPES.contains(&s.ident.to_string().as_str())),
        Expr::Paren(e) => names_a_word_type(&e.expr),
        Expr::Cast(e) => names_a_word_type(&e.expr),
        Expr::MethodCall(call) => names_a_word_type(&call.receiver),
        Expr::Field(e) => names_a_word_type(&e.base),
        Expr::Binary(e) => names_a_word_type(&e.left) || names_a_word_type(&e.right),
        _ => false,
    }
}

fn is_arithmetic(op: &syn::BinOp) -> bool {
    use syn::BinOp::*;
    matches!(
        op,
        Add(_)
            | Sub(_)
            | Mul(_)
            | Div(_)
            | Rem(_)
            | BitAnd(_)
            | BitOr(_)
            | BitXor(_)
            | Shl(_)
            | Shr(_)
    )
}

/// The first integer literal in a pattern (`1`, `1 | 2`, `0..=3`, `Some(2)`, …).
fn pattern_literal(pat: &Pat) -> Option<Span> {
    struct Find(Option<Span>);
    impl<'ast> Visit<'ast> for Find {
        fn visit_lit_int(&mut self, lit: &'ast syn::LitInt) {
            self.0.get_or_insert(lit.span());
        }
    }
    let mut find = Find(None);
    find.visit_pat(pat);
    find.0
}

/// `matches!(expr, pattern)` or `matches!(expr, pattern if guard)`.
struct MatchesArgs {
    expr: Expr,
    pat: Pat,
    guard: Option<Expr>,
}

impl syn::parse::Parse for MatchesArgs {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        let expr = input.parse()?;
        input.parse::<Token![,]>()?;
        let pat = Pat::parse_multi_with_leading_vert(input)?;
        let guard = if input.parse::<Option<Token![if]>>()?.is_some() {
            Some(input.parse()?)
        } else {
            None
        };
        let _rest: proc_macro2::TokenStream = input.parse()?;
        Ok(Self { expr, pat, guard })
    }
}

struct Checker<'h> {
    helpers: &'h BTreeSet<Helper>,
    findings: Vec<Finding>,
}

impl Checker<'_> {
    fn report(&mut self, span: Span, what: String) {
        self.findings.push(Finding {
            line: span.start().line,
            what,
        });
    }

    fn comparison(&mut self, left: &Expr, right: &Expr) {
        for (word, other) in [(left, right), (right, left)] {
            if let (Some(name), Some(int)) = (word_name(word), int_literal(other)) {
                self.report(
                    int.span(),
                    format!("`{name}` compared with the integer literal {int}"),
                );
            }
        }
    }

    fn arms(&mut self, scrutinee: &Expr, pats: Vec<&Pat>) {
        if let Some(name) = word_name(scrutinee) {
            for pat in pats {
                if let Some(span) = pattern_literal(pat) {
                    self.report(span, format!("`{name}` matched against an integer literal"));
                }
            }
            return;
        }
        let Expr::Tuple(tuple) = scrutinee else {
            return;
        };
        let elements: Vec<(usize, String)> = tuple
            .elems
            .iter()
            .enumerate()
            .filter_map(|(i, e)| word_name(e).map(|n| (i, n)))
            .collect();
        for pat in pats_of_tuples(&pats) {
            for (i, name) in &elements {
                if let Some(span) = pat.get(*i).and_then(|p| pattern_literal(p)) {
                    self.report(span, format!("`{name}` matched against an integer literal"));
                }
            }
        }
    }

    fn helper_args<'a>(
        &mut self,
        name: &str,
        args: impl ExactSizeIterator<Item = &'a Expr>,
        matches: impl Fn(&Helper) -> bool,
    ) {
        let arity = args.len();
        let positions: Vec<usize> = self
            .helpers
            .iter()
            .filter(|h| h.name == name && h.arity == arity && matches(h))
            .map(|h| h.index)
            .collect();
        for (index, arg) in args.enumerate() {
            if positions.contains(&index)
                && let Some(int) = int_literal(arg)
            {
                self.report(
                    int.span(),
                    format!(
                        "`{name}` takes a word as argument {index}, given the integer literal {int}"
                    ),
                );
            }
        }
    }
}

/// The element patterns of tuple patterns (other arms are skipped).
fn pats_of_tuples<'a>(pats: &[&'a Pat]) -> Vec<Vec<&'a Pat>> {
    pats.iter()
        .flat_map(|pat| match pat {
            Pat::Tuple(t) => vec![t.elems.iter().collect()],
            Pat::Or(or) => pats_of_tuples(&or.cases.iter().collect::<Vec<_>>()),
            _ => vec![],
        })
        .collect()
}

impl<'ast> Visit<'ast> for Checker<'_> {
    fn visit_pat_struct(&mut self, p: &'ast syn::PatStruct) {
        for field in &p.fields {
            if let Member::Named(name) = &field.member
                && is_word_name(&name.to_string())
                && let Some(span) = pattern_literal(&field.pat)
            {
                self.report(
                    span,
                    format!("field `{name}` matched against an integer literal"),
                );
            }
        }
        visit::visit_pat_struct(self, p);
    }
    fn visit_expr_struct(&mut self, e: &'ast syn::ExprStruct) {
        for field in &e.fields {
            if let Member::Named(name) = &field.member
                && is_word_name(&name.to_string())
                && let Some(int) = int_literal(&field.expr)
            {
                self.report(
                    int.span(),
                    format!("field `{name}` set to the integer literal {int}"),
                );
            }
        }
        visit::visit_expr_struct(self, e);
    }

    fn visit_expr_binary(&mut self, e: &'ast syn::ExprBinary) {
        if matches!(
            e.op,
            BinOp::Eq(_) | BinOp::Ne(_) | BinOp::Lt(_) | BinOp::Le(_) | BinOp::Gt(_) | BinOp::Ge(_)
        ) {
            self.comparison(&e.left, &e.right);
        }
        visit::visit_expr_binary(self, e);
    }

    fn visit_expr_assign(&mut self, e: &'ast syn::ExprAssign) {
        if let (Some(name), Some(int)) = (word_name(&e.left), int_literal(&e.right)) {
            self.report(
                int.span(),
                format!("`{name}` assigned the integer literal {int}"),
            );
        }
        visit::visit_expr_assign(self, e);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        let name = match &local.pat {
            Pat::Ident(p) => Some(p.ident.to_string()),
            Pat::Type(t) => match t.pat.as_ref() {
                Pat::Ident(p) => Some(p.ident.to_string()),
                _ => None,
            },
            _ => None,
        };
        // `let Some(1) = x.status else { … }`: a pattern on a word, as in a match.
        if let Some(init) = &local.init {
            self.arms(&init.expr, vec![&local.pat]);
        }
        if let (Some(name), Some(init)) = (name, &local.init)
            && is_word_name(&name)
            && let Some(int) = int_literal(&init.expr)
        {
            self.report(
                int.span(),
                format!("`{name}` bound to the integer literal {int}"),
            );
        }
        visit::visit_local(self, local);
    }

    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        let name = item.ident.to_string();
        if SOL_PREFIXES.iter().any(|p| name.starts_with(p))
            && let Some(int) = int_literal(&item.expr)
        {
            self.report(
                int.span(),
                format!("`const {name}` re-types a contract word as {int}"),
            );
        }
        visit::visit_item_const(self, item);
    }

    /// `if let 1 = x.kind` / `while let Some(2) = …`.
    fn visit_expr_let(&mut self, e: &'ast syn::ExprLet) {
        self.arms(&e.expr, vec![&e.pat]);
        visit::visit_expr_let(self, e);
    }

    fn visit_expr_match(&mut self, e: &'ast syn::ExprMatch) {
        self.arms(&e.expr, e.arms.iter().map(|a| &a.pat).collect());
        visit::visit_expr_match(self, e);
    }

    fn visit_expr_call(&mut self, e: &'ast syn::ExprCall) {
        if let Expr::Path(p) = e.func.as_ref()
            && let Some(name) = last_ident(&p.path)
        {
            let segments: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            let owner = (segments.len() >= 2).then(|| segments[segments.len() - 2].clone());
            self.helper_args(&name, e.args.iter(), |h| match (&owner, &h.owner) {
                (None, helper) => helper.is_none(),
                (Some(o), Some(h)) => o == h || o == "Self",
                // A module path to a free function.
                (Some(_), None) => true,
            });
        }
        visit::visit_expr_call(self, e);
    }

    fn visit_expr_method_call(&mut self, e: &'ast syn::ExprMethodCall) {
        self.helper_args(&e.method.to_string(), e.args.iter(), |h| h.has_self);
        visit::visit_expr_method_call(self, e);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let name = last_ident(&mac.path).unwrap_or_default();
        if name == "matches" {
            if let Ok(args) = mac.parse_body::<MatchesArgs>() {
                self.arms(&args.expr, vec![&args.pat]);
                // Struct patterns inside the macro (`E::LimitExceeded(LimitExceeded { kind: 4, .. })`),
                // which the visitor does not reach in a macro's tokens.
                self.visit_pat(&args.pat);
                self.visit_expr(&args.expr);
                if let Some(guard) = &args.guard {
                    self.visit_expr(guard);
                }
            }
        } else if let Ok(args) =
            mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
        {
            let args: Vec<&Expr> = args.iter().collect();
            if matches!(
                name.as_str(),
                "assert_eq" | "assert_ne" | "debug_assert_eq" | "debug_assert_ne"
            ) && args.len() >= 2
            {
                self.comparison(args[0], args[1]);
            }
            for arg in args {
                self.visit_expr(arg);
            }
        }
        visit::visit_macro(self, mac);
    }
}

fn helpers_of(file: &syn::File) -> BTreeSet<Helper> {
    let mut collector = HelperCollector::default();
    collector.visit_file(file);
    collector.helpers
}

fn check_file(file: &syn::File, helpers: &BTreeSet<Helper>) -> Vec<Finding> {
    let mut checker = Checker {
        helpers,
        findings: Vec::new(),
    };
    checker.visit_file(file);
    checker.findings
}

/// Checks one source text on its own (its helpers only).
fn check_source(source: &str) -> Vec<Finding> {
    let file = syn::parse_file(source).expect("the test source parses");
    check_file(&file, &helpers_of(&file))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(
                name.as_str(),
                "target" | "node_modules" | ".git" | "artifacts"
            ) {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_integer_literal_stands_for_a_contract_word_outside_the_vocabulary() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["crates", "fuzz", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(
        files.len() > 50,
        "found only {} Rust files under {}",
        files.len(),
        root.display()
    );
    let parsed: Vec<(String, syn::File)> = files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let relative = path
                .strip_prefix(&root)
                .unwrap_or(path)
                .to_string_lossy()
                .replace('\\', "/");
            let file =
                syn::parse_file(&text).unwrap_or_else(|e| panic!("{relative} does not parse: {e}"));
            (relative, file)
        })
        .collect();
    let shared: BTreeSet<Helper> = parsed
        .iter()
        .filter(|(path, _)| !path.starts_with(VOCABULARY))
        .flat_map(|(_, file)| helpers_of(file))
        .filter(|helper| !helper.local)
        .collect();
    let mut problems = Vec::new();
    for (path, file) in &parsed {
        if path.starts_with(VOCABULARY) {
            continue;
        }
        let mut helpers = shared.clone();
        helpers.extend(helpers_of(file).into_iter().filter(|helper| helper.local));
        for finding in check_file(file, &helpers) {
            problems.push(format!("{path}:{}: {}", finding.line, finding.what));
        }
    }
    assert!(
        problems.is_empty(),
        "integer literals stand for contract words (write the vocabulary's typed word instead, \
         crates/contracts/src/vocabulary):\n{}",
        problems.join("\n")
    );
}

#[test]
fn each_kind_of_literal_word_is_reported_with_its_line() {
    let source = r#"
const COND_EQUAL: u8 = 1;
fn limit(limit_type: u8, amount: u64) -> u64 { amount }
fn restrict(path: &Path, mode: u32) {}
fn f(spec: &Spec, row: &Row) {
    let l = UsageLimit { limitType: 2, limit: U256::ZERO, period: U48::ZERO };
    if spec.paymasterMode == 2 {}
    match c.condition { 7 => {}, _ => {} }
    assert!(matches!(row.kind, 0 | 1));
    assert_eq!(row.status, 1);
    let x = limit(1, 5);
    let mode = 1;
    header.status = 2;
    match (row.kind, other) { (4, _) => {}, _ => {} }
    let set = |target, status| (target, status);
    set(usdc, 2);
    assert!(matches!(error, E::Refused(e) if e.status == 2));
    if let Some(1) = entry.status {}
    let Some(2) = entry.status else { return };
    let l = UsageLimit { limitType: seed % 4, limit: U256::ZERO, period: U48::ZERO };
    if u8::from(row.status) == 1 {}
    assert!(matches!(e, E::LimitExceeded(LimitExceeded { kind: 4, .. })));
    if let Refused { status: 2, .. } = verdict {}
}
"#;
    let lines: Vec<usize> = check_source(source).iter().map(|f| f.line).collect();
    assert_eq!(
        lines,
        vec![
            2, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22, 23
        ]
    );
}

#[test]
fn typed_words_and_unrelated_literals_pass() {
    let source = r#"
fn limit(limit_type: LimitType, amount: u64) -> u64 { amount }
fn f(spec: &Spec, row: &Row) {
    let l = UsageLimit { limitType: LimitType::Allowance.into(), limit: U256::ZERO, period: U48::ZERO };
    if spec.paymaster_mode() == Ok(PaymasterMode::One) {}
    match c.condition() { Ok(Condition::OneOf) => {}, _ => {} }
    assert!(matches!(row.counter_kind(), Ok(CounterKind::Ops)));
    let x = limit(LimitType::Lifetime, 1);
    let count = 1;
    if row.policyIndex == 1 && spec.callPolicies.len() == 2 {}
    assert_eq!(out.status.code(), Some(1));
    restrict(path, 0o700);
    let l = UsageLimit { limitType: seed % (LimitType::UNKNOWN + 1), limit: U256::ZERO, period: U48::ZERO };
    let c = Constraint { condition: Condition::UNKNOWN + 1, ..Constraint::unconstrained(0) };
    assert!(matches!(e, E::LimitExceeded(LimitExceeded { kind: k, .. }) if k == CounterKind::Fee.into()));
}
fn restrict(path: &Path, mode: u32) {}
"#;
    assert_eq!(check_source(source), vec![]);
}
