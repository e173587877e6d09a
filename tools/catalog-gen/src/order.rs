//! The order of provider blocks in the embedded catalog, chosen for gzip.
//!
//! The Worker's upload is measured gzipped, and the catalog is an eighth of
//! it. Providers that resell the same models (`claude-sonnet-4-5` at eight
//! of them) have near-identical lines; gzip only finds a repeat within its
//! 32 KiB window, so the blocks are ordered to put such providers next to
//! each other. Lookups do not depend on the order: the loader sorts the
//! providers by id (`catalog::text::Index::load`), and a runtime refresh
//! keeps writing them alphabetically.

use std::collections::BTreeSet;

/// How many of the last blocks a candidate is compared with: about what
/// gzip's window holds.
const WINDOW: usize = 3;

/// `text` with its provider blocks (a `P` line and the lines up to the
/// next) reordered greedily: after the first, each next block is the one
/// sharing the most model names with the last [`WINDOW`] blocks, scaled
/// down by the square root of its size so large blocks do not win on size
/// alone; ties keep the builder's order.
pub fn compact_order(text: &str) -> String {
    let (head, blocks) = split_blocks(text);
    if blocks.is_empty() {
        return text.to_owned();
    }
    let names: Vec<BTreeSet<&str>> = blocks.iter().map(|b| model_names(b)).collect();
    let mut left: Vec<usize> = (1..blocks.len()).collect();
    let mut order = vec![0];
    while !left.is_empty() {
        let recent = &order[order.len().saturating_sub(WINDOW)..];
        let near: BTreeSet<&str> = recent
            .iter()
            .flat_map(|&i| names[i].iter().copied())
            .collect();
        let score = |j: usize| {
            let shared = names[j].intersection(&near).count() as f64;
            shared / ((1 + names[j].len()) as f64).sqrt()
        };
        let mut best = 0;
        for k in 1..left.len() {
            if score(left[k]) > score(left[best]) {
                best = k;
            }
        }
        order.push(left.remove(best));
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(head);
    for i in order {
        out.push_str(blocks[i]);
    }
    out
}

/// The lines before the first provider, then each provider's block, every
/// piece with its trailing newlines.
pub fn split_blocks(text: &str) -> (&str, Vec<&str>) {
    let mut starts: Vec<usize> = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("P\t") {
            starts.push(at);
        }
        at += line.len();
    }
    let Some(&first) = starts.first() else {
        return (text, Vec::new());
    };
    let ends = starts.iter().skip(1).copied().chain([text.len()]);
    let blocks = starts.iter().zip(ends).map(|(&s, e)| &text[s..e]).collect();
    (&text[..first], blocks)
}

/// A block's model ids, and each id's last path segment too
/// (`anthropic/claude-sonnet-4-5` and `claude-sonnet-4-5` share it).
fn model_names(block: &str) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    for line in block.lines() {
        if let Some(rest) = line.strip_prefix("M\t") {
            let id = rest.split('\t').next().unwrap_or("");
            out.insert(id);
            out.insert(id.rsplit('/').next().unwrap_or(id));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_with_shared_models_end_up_side_by_side() {
        let text = "#h\nF\ta\nP\ta\nM\tx\nM\ty\nP\tb\nM\tq\nP\tc\nM\tvendor/x\nM\ty\n";
        assert_eq!(
            compact_order(text),
            "#h\nF\ta\nP\ta\nM\tx\nM\ty\nP\tc\nM\tvendor/x\nM\ty\nP\tb\nM\tq\n"
        );
    }

    #[test]
    fn reordering_keeps_every_line() {
        let text = crate::generate(&crate::repo_root()).unwrap().to_text();
        let mut a: Vec<&str> = text.lines().collect();
        let ordered = compact_order(&text);
        let mut b: Vec<&str> = ordered.lines().collect();
        assert_eq!(
            a[..2],
            b[..2],
            "the header and first-party lines stay first"
        );
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
    }
}
