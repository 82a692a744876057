//! The README's "Configuration" section against `coordinator --help`: every
//! flag the binary takes is listed there, with the default `--help` gives.

#![allow(clippy::unwrap_used)]

use std::process::Command;

/// The README at the repository root.
fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The text of the README section titled `title` (a `## ` heading), up to
/// the next `## ` heading.
fn section<'a>(readme: &'a str, title: &str) -> &'a str {
    let heading = format!("\n## {title}\n");
    let start = readme
        .find(&heading)
        .unwrap_or_else(|| panic!("the README has no \"## {title}\" section"))
        + heading.len();
    let rest = &readme[start..];
    rest.find("\n## ").map_or(rest, |end| &rest[..end])
}

/// `coordinator --help` as the binary prints it.
fn help() -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "--help failed: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Every option of the help text, in order: the long flag (`--lease-secs`,
/// or `[PORT]` for the positional port) and its default, if it has one.
fn options(help: &str) -> Vec<(String, Option<String>)> {
    let mut options: Vec<(String, Option<String>)> = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        // An option's first line names it; the lines below describe it.
        let indent = line.len() - trimmed.len();
        let first = trimmed.split_whitespace().next().unwrap_or("");
        let named = if first.starts_with('[') && first.ends_with(']') && indent <= 4 {
            Some(first.to_owned())
        } else if indent <= 6 && (trimmed.starts_with("--") || trimmed.starts_with('-')) {
            trimmed
                .split([' ', ','])
                .find(|word| word.starts_with("--"))
                .map(str::to_owned)
        } else {
            None
        };
        if let Some(name) = named {
            options.push((name, None));
        }
        if let Some(default) = trimmed
            .split("[default: ")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
        {
            let last = options.last_mut().expect("a default after an option");
            last.1 = Some(default.to_owned());
        }
    }
    options
}

#[test]
fn the_readme_lists_every_flag_with_its_default() {
    let help = help();
    let options = options(&help);
    let names: Vec<&str> = options.iter().map(|(name, _)| name.as_str()).collect();
    // The parse finds what the binary is known to take, so it cannot pass empty.
    for known in [
        "[PORT]",
        "--lease-secs",
        "--static-dir",
        "--no-split",
        "--help",
    ] {
        assert!(
            names.contains(&known),
            "{known} not found in --help:\n{help}"
        );
    }
    let readme = readme();
    let configuration = section(&readme, "Configuration");
    for (name, default) in &options {
        // The row whose first cell names the flag.
        let row = configuration
            .lines()
            .find(|line| {
                line.strip_prefix('|')
                    .and_then(|rest| rest.split('|').next())
                    .is_some_and(|cell| cell.contains(&format!("`{name}`")))
            })
            .unwrap_or_else(|| panic!("the README's Configuration table has no row for `{name}`"));
        if let Some(default) = default {
            assert!(
                row.contains(&format!("`{default}`")),
                "the README's row for {name} does not give its default `{default}`: {row}"
            );
        }
    }
}
