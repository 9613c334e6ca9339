//! `docs/rules.md` is the canonical text of the hardening rules and names, for each rule, the
//! functions that enforce it on both sides and the tests that prove it. This test keeps those
//! names true: every rule 1..=23 has its section, every named Solidity and Rust function exists
//! and carries its `Rule N` tag, a pair's names are the same name (`_checkCall` ↔ `check_call`),
//! and every named test exists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The highest rule number; a new rule raises it.
const LAST_RULE: u32 = 23;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One `## Rule N.` section of the document.
#[derive(Debug, Default)]
struct RuleSection {
    number: u32,
    /// (Solidity `Contract.function`, its Rust twin if both sides enforce the rule).
    code: Vec<(String, Option<String>)>,
    /// `file::test` or `crate::test`.
    tests: Vec<String>,
}

fn backticked(line: &str) -> Vec<String> {
    line.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn parse(doc: &str) -> Result<Vec<RuleSection>, String> {
    let mut sections: Vec<RuleSection> = Vec::new();
    for line in doc.lines() {
        if let Some(rest) = line.strip_prefix("## Rule ") {
            let number = rest
                .split('.')
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("a rule heading without a number: {line}"))?;
            sections.push(RuleSection {
                number,
                ..Default::default()
            });
            continue;
        }
        let Some(section) = sections.last_mut() else {
            continue;
        };
        if let Some(rest) = line.strip_prefix("- Code:") {
            let names = backticked(rest);
            let [solidity, rust] = names.as_slice() else {
                return Err(format!(
                    "rule {}: a Code line names two functions: {line}",
                    section.number
                ));
            };
            section.code.push((solidity.clone(), Some(rust.clone())));
        } else if let Some(rest) = line.strip_prefix("- Code (Solidity only):") {
            for name in backticked(rest) {
                section.code.push((name, None));
            }
        } else if let Some(rest) = line.strip_prefix("- Tests:") {
            section.tests.extend(backticked(rest));
        }
    }
    Ok(sections)
}

/// `_checkCall` → `check_call`, `decodeExecute` → `decode_execute`.
fn snake_case(solidity: &str) -> String {
    let mut out = String::new();
    for c in solidity.trim_start_matches('_').chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The rule numbers tagged in a doc comment (`Rule 6`, `rules 5, 8`, `Rules 13, 15 and 18`).
fn tagged_rules(comment: &str) -> BTreeSet<u32> {
    let mut rules = BTreeSet::new();
    let lower = comment.to_ascii_lowercase();
    for (at, _) in lower.match_indices("rule") {
        let rest = lower[at + 4..].trim_start_matches('s');
        let list: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || matches!(c, ' ' | ',') || c.is_ascii_alphabetic())
            .collect();
        for word in list.split([' ', ',']).filter(|w| !w.is_empty()) {
            match word.parse::<u32>() {
                Ok(n) => {
                    rules.insert(n);
                }
                Err(_) if word == "and" || word == "or" => {}
                Err(_) => break,
            }
        }
    }
    rules
}

/// The doc comment right above each definition whose line matches `is_definition`.
fn doc_comments_of(source: &str, is_definition: impl Fn(&str) -> bool) -> Vec<String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut comments = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !is_definition(line) {
            continue;
        }
        let mut start = i;
        while start > 0 {
            let above = lines[start - 1].trim_start();
            if above.starts_with("///") || above.starts_with("#[") {
                start -= 1;
            } else {
                break;
            }
        }
        comments.push(lines[start..i].join("\n"));
    }
    comments
}

fn files_under(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every problem with the document's names, against the sources under `root`.
fn problems(doc: &str, root: &Path) -> Vec<String> {
    let sections = match parse(doc) {
        Ok(sections) => sections,
        Err(problem) => return vec![problem],
    };
    let mut problems = Vec::new();
    let numbers: Vec<u32> = sections.iter().map(|s| s.number).collect();
    let expected: Vec<u32> = (1..=LAST_RULE).collect();
    if numbers != expected {
        problems.push(format!(
            "the rules are {numbers:?}, expected 1..={LAST_RULE} in order"
        ));
    }

    let mut rust_sources = Vec::new();
    for krate in [
        "contracts",
        "engine",
        "chain",
        "devnet",
        "sdk",
        "cli",
        "keystore",
    ] {
        files_under(
            &root.join("crates").join(krate).join("src"),
            "rs",
            &mut rust_sources,
        );
    }
    let rust: Vec<String> = rust_sources.iter().map(|p| read(p)).collect();

    for section in &sections {
        let n = section.number;
        if section.code.is_empty() {
            problems.push(format!("rule {n} names no code"));
        }
        if section.tests.is_empty() {
            problems.push(format!("rule {n} names no test"));
        }
        for (solidity, twin) in &section.code {
            let Some((contract, function)) = solidity.split_once('.') else {
                problems.push(format!("rule {n}: `{solidity}` is not Contract.function"));
                continue;
            };
            let path = ["contracts/src", "contracts/src/lib"]
                .iter()
                .map(|dir| root.join(dir).join(format!("{contract}.sol")))
                .find(|p| p.exists());
            let Some(path) = path else {
                problems.push(format!("rule {n}: no contract file for `{contract}`"));
                continue;
            };
            let needle = format!("function {function}(");
            let comments = doc_comments_of(&read(&path), |l| l.contains(&needle));
            if comments.is_empty() {
                problems.push(format!("rule {n}: `{solidity}` does not exist"));
            } else if !comments.iter().any(|c| tagged_rules(c).contains(&n)) {
                problems.push(format!("rule {n}: `{solidity}` lacks its `Rule {n}` tag"));
            }
            let Some(rust_name) = twin else { continue };
            if snake_case(function) != *rust_name {
                problems.push(format!(
                    "rule {n}: `{solidity}` and `{rust_name}` are not the same name \
                     (expected `{}`)",
                    snake_case(function)
                ));
            }
            let definition = |l: &str| {
                let l = l.trim_start();
                [format!("fn {rust_name}("), format!("fn {rust_name}<")]
                    .iter()
                    .any(|d| l.starts_with(d.as_str()) || l.contains(&format!(" {d}")))
            };
            let comments: Vec<String> = rust
                .iter()
                .flat_map(|source| doc_comments_of(source, definition))
                .collect();
            if comments.is_empty() {
                problems.push(format!("rule {n}: Rust `{rust_name}` does not exist"));
            } else if !comments.iter().any(|c| tagged_rules(c).contains(&n)) {
                problems.push(format!(
                    "rule {n}: Rust `{rust_name}` lacks its `Rule {n}` tag"
                ));
            }
        }
        for test in &section.tests {
            let Some((place, name)) = test.split_once("::") else {
                problems.push(format!("rule {n}: test `{test}` is not file::test"));
                continue;
            };
            let mut files = Vec::new();
            let devnet_test = root.join("crates/devnet/tests").join(format!("{place}.rs"));
            if devnet_test.exists() {
                files.push(devnet_test);
            } else {
                files_under(&root.join("crates").join(place), "rs", &mut files);
            }
            let needle = format!("fn {name}(");
            if !files.iter().any(|f| read(f).contains(&needle)) {
                problems.push(format!("rule {n}: test `{test}` does not exist"));
            }
        }
    }
    problems
}

#[test]
fn every_rule_names_code_that_exists_with_its_tag_and_tests_that_exist() {
    let doc = read(&root().join("docs/rules.md"));
    let problems = problems(&doc, &root());
    assert!(
        problems.is_empty(),
        "docs/rules.md is out of step with the code:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_missing_function_a_missing_tag_a_renamed_twin_and_a_missing_test_are_reported() {
    let mut doc = String::new();
    for n in 1..=LAST_RULE {
        doc.push_str(&format!("## Rule {n}. Title\n\n"));
        match n {
            1 => doc.push_str(
                "- Code: `SessionKeyValidator._noSuchFunction` ↔ `no_such_function`\n\
                 - Tests: `session_policies::short_calldata_is_refused`\n",
            ),
            2 => doc.push_str(
                // `_checkFee` exists but carries rules 11 and 12, not 2.
                "- Code: `SessionKeyValidator._checkFee` ↔ `check_fee`\n\
                 - Tests: `session_policies::short_calldata_is_refused`\n",
            ),
            3 => doc.push_str(
                "- Code: `SessionKeyValidator._checkCall` ↔ `check_calls`\n\
                 - Tests: `session_policies::a_test_nobody_wrote`\n",
            ),
            _ => doc.push_str(
                "- Code: `SessionKeyValidator._checkCall` ↔ `check_call`\n\
                 - Tests: `session_policies::short_calldata_is_refused`\n",
            ),
        }
    }
    let found = problems(&doc, &root()).join("\n");
    for expected in [
        "rule 1: `SessionKeyValidator._noSuchFunction` does not exist",
        "rule 1: Rust `no_such_function` does not exist",
        "rule 2: `SessionKeyValidator._checkFee` lacks its `Rule 2` tag",
        "rule 2: Rust `check_fee` lacks its `Rule 2` tag",
        "rule 3: `SessionKeyValidator._checkCall` and `check_calls` are not the same name",
        "rule 3: test `session_policies::a_test_nobody_wrote` does not exist",
        // Rule 4's twins exist but are tagged for rules 2, 3, 6 and 16 only.
        "rule 4: `SessionKeyValidator._checkCall` lacks its `Rule 4` tag",
    ] {
        assert!(
            found.contains(expected),
            "not reported: {expected}\nfound:\n{found}"
        );
    }
    let short = "## Rule 1. Only one\n- Code: `SessionKeyValidator._checkCall` ↔ `check_call`\n";
    assert!(problems(short, &root())[0].contains("expected 1..=23"));
}

#[test]
fn tags_are_read_in_the_forms_the_sources_use() {
    assert_eq!(tagged_rules("/// Rule 6, the targets"), BTreeSet::from([6]));
    assert_eq!(
        tagged_rules("(rules 5, 8). Charges"),
        BTreeSet::from([5, 8])
    );
    assert_eq!(
        tagged_rules("/// Rules 13, 15 and 18 (docs/rules.md)."),
        BTreeSet::from([13, 15, 18])
    );
    assert_eq!(snake_case("_enableInFirstUse"), "enable_in_first_use");
    assert_eq!(snake_case("decodeExecute"), "decode_execute");
}
