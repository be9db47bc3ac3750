//! The README and the book under docs/ (mdBook layout): the README stays short, SUMMARY.md
//! lists every chapter, and every relative link (and `#anchor`) leads somewhere that exists.
//! The commands in their code blocks are checked in `deploy`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::util::root;

/// The README's length limit (issue 22): what it is, the two commands, three uses, links.
const README_MAX_LINES: usize = 250;

/// The README and every chapter of the book: (path relative to the repository, text).
pub fn documents() -> Vec<(String, String)> {
    let mut docs = vec![("README.md".to_string(), read(&root().join("README.md")))];
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(root().join("docs/src"))
        .expect("docs/src: the book's chapters")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    for p in chapters {
        let rel = p.strip_prefix(root()).unwrap().display().to_string();
        docs.push((rel, read(&p)));
    }
    docs
}

/// Fenced code blocks of a Markdown text: (info string, body).
pub fn code_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in markdown.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) => open = Some((info.trim().to_string(), String::new())),
            (Some(_), Some(_)) => blocks.push(open.take().unwrap()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    blocks
}

/// The text outside code blocks and inline code spans (where links are links).
fn prose(markdown: &str) -> String {
    let mut out = String::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            // Drop inline code spans: `a](b)` inside one is not a link.
            let kept: String = line
                .split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 0)
                .map(|(_, s)| s)
                .collect::<Vec<_>>()
                .join(" ");
            out.push_str(&kept);
            out.push('\n');
        }
    }
    out
}

/// The link targets of a Markdown text: what follows `](` up to the closing `)`. A link
/// whose text spans two lines counts too.
fn link_targets(markdown: &str) -> Vec<String> {
    let text = prose(markdown);
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            rest.find(')').map(|end| rest[..end].to_string())
        })
        .collect()
}

/// A heading's anchor as GitHub and mdBook make it: lower case, letters, digits, `-`
/// and `_` kept, spaces turned into `-`, everything else dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every heading's anchor in a Markdown text (headings inside code blocks are not).
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
        } else if !in_block && line.starts_with('#') {
            found.insert(slug(line.trim_start_matches('#')));
        }
    }
    found
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every broken relative link in `docs`: (document, target, why).
fn broken_links(docs: &[(String, String)]) -> Vec<(String, String, String)> {
    let mut broken = Vec::new();
    for (rel, text) in docs {
        let dir = root().join(rel).parent().unwrap().to_path_buf();
        for target in link_targets(text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let path = dir.join(file);
            let why = if file.is_empty() {
                // An anchor in the document itself.
                (!anchors(text).contains(anchor)).then_some("no such heading")
            } else if !path.exists() {
                Some("no such file")
            } else if !anchor.is_empty() && !anchors(&read(&path)).contains(anchor) {
                Some("no such heading")
            } else {
                None
            };
            if let Some(why) = why {
                broken.push((rel.clone(), target.clone(), why.to_string()));
            }
        }
    }
    broken
}

#[test]
fn the_readme_is_short_and_the_book_holds_the_rest() {
    let readme = read(&root().join("README.md"));
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, at most {README_MAX_LINES}"
    );
    // The two commands, exactly as a new user types them.
    assert!(readme.contains("cargo run --release -- run "), "{readme}");
    assert!(readme.contains("\ncargo test "), "{readme}");
    assert!(readme.contains("docs/src/SUMMARY.md"));

    let summary = read(&root().join("docs/src/SUMMARY.md"));
    let listed: BTreeSet<String> = link_targets(&summary).into_iter().collect();
    let chapters: BTreeSet<String> = documents()
        .into_iter()
        .filter_map(|(rel, _)| rel.strip_prefix("docs/src/").map(str::to_string))
        .filter(|name| name != "SUMMARY.md")
        .collect();
    assert!(chapters.len() >= 20, "{chapters:?}");
    assert_eq!(
        listed, chapters,
        "SUMMARY.md must list every chapter under docs/src/, and only those"
    );
    assert!(root().join("docs/book.toml").is_file());
}

#[test]
fn every_relative_link_of_the_readme_and_the_book_leads_somewhere() {
    let broken = broken_links(&documents());
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}

#[test]
fn the_link_checker_finds_a_missing_file_and_a_missing_heading() {
    // Without this, a checker that finds no links would pass the test above.
    let doc = "# Top\n\nSee [a](docs/src/run.md), [b](docs/src/nope.md), [c](#top),\n\
               [d](#nowhere), [e](docs/src/report.md#a-verdict-needs-data), [f\n\
               across lines](docs/src/report.md#no-such-part) and `[g](in-code.md)`.\n\
               ```\n[h](in-block.md)\n```\n";
    let broken = broken_links(&[("README.md".into(), doc.into())]);
    let targets: Vec<&str> = broken.iter().map(|(_, t, _)| t.as_str()).collect();
    assert_eq!(
        targets,
        [
            "docs/src/nope.md",
            "#nowhere",
            "docs/src/report.md#no-such-part"
        ],
        "{broken:?}"
    );
    assert_eq!(slug(" `dashload run [SCENARIO]`"), "dashload-run-scenario");
    assert_eq!(slug("summary.json"), "summaryjson");
}
