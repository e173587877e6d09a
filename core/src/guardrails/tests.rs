use std::sync::Arc;

use super::*;

fn guards(toml: &str) -> std::sync::Arc<Guardrails> {
    crate::Config::parse(toml).unwrap().guards
}

const ISSUE_EXAMPLE: &str = r#"
[[guardrails]]
name = "pii"
detectors = ["email", "payment_card", "secrets"]
action = "mask"
apply_to = ["input", "output"]

[[guardrails]]
name = "banned"
keywords = ["project nightingale", "internal only"]
action = "block"
apply_to = ["input", "output"]
"#;

fn checker(g: &Arc<Guardrails>) -> Checker {
    Checker::new(g.clone(), g.active("any-model", Direction::Input))
}

#[test]
fn the_issue_example_masks_and_blocks() {
    let g = guards(ISSUE_EXAMPLE);
    let mut c = checker(&g);
    let out = c
        .check("mail a@example.com or a@example.com, card 4111 1111 1111 1111, b@example.org")
        .unwrap()
        .unwrap();
    assert_eq!(
        out,
        "mail [EMAIL_1] or [EMAIL_1], card [PAYMENT_CARD_1], [EMAIL_2]"
    );
    assert_eq!(c.report(), "pii:email=3,pii:payment_card=1");
    let blocked = c
        .check("this is Project  Nightingale? no: PROJECT NIGHTINGALE.")
        .unwrap_err();
    assert_eq!(blocked.set, "banned");
    let e = blocked.into_error(Direction::Input);
    assert_eq!(e.code.as_deref(), Some("guardrail_blocked"));
    assert!(!e.message.to_lowercase().contains("nightingale"));
    assert_eq!(c.check("nightingales of the project").unwrap(), None);
}

#[test]
fn keywords_match_across_look_alikes_but_only_as_words() {
    let g = guards("[[guardrails]]\nname=\"k\"\nkeywords=[\"internal only\",\"foo\"]\n");
    let mut c = checker(&g);
    for hit in [
        "ІNTERNAL\u{200B} ОNLY",
        "ｉｎｔｅｒｎａｌ only",
        "(foo)",
        "foo_bar foo",
    ] {
        assert!(c.check(hit).is_err(), "{hit}");
    }
    for miss in ["internally only", "food", "foo_bar", "xfoo"] {
        assert_eq!(c.check(miss), Ok(None), "{miss}");
    }
    let g = guards("[[guardrails]]\nname=\"k\"\nmatch=\"substring\"\naction=\"mask\"\nkeywords=[\"foo\"]\nmask_with=\"***\"\n");
    let mut c = checker(&g);
    assert_eq!(c.check("xfooy Foo").unwrap().unwrap(), "x***y ***");
}

#[test]
fn sets_apply_by_direction_and_model() {
    let g = guards(
        "[[guardrails]]\nname=\"in\"\nkeywords=[\"x\"]\napply_to=[\"input\"]\nmodels=[\"gpt-*\"]\n\
         [[guardrails]]\nname=\"out\"\nkeywords=[\"y\"]\napply_to=[\"output\"]\n",
    );
    assert!(g.active("gpt-4o", Direction::Input).any());
    assert!(!g.active("claude", Direction::Input).any());
    assert!(g.active("claude", Direction::Output).any());
    let mut c = Checker::new(g.clone(), g.active("gpt-4o", Direction::Input));
    assert!(c.check("x").is_err());
    assert_eq!(c.check("y"), Ok(None));
}

#[test]
fn bad_sets_fail_at_load_with_a_clear_message() {
    for (toml, says) in [
        ("[[guardrails]]\nname=\"a\"\n", "neither keywords nor detectors"),
        ("[[guardrails]]\nname=\"a\"\nkeywords=[\"  \"]\n", "empty"),
        ("[[guardrails]]\nname=\"a b\"\nkeywords=[\"x\"]\n", "name"),
        ("[[guardrails]]\nname=\"a\"\nkeywords=[\"x\"]\n[[guardrails]]\nname=\"a\"\nkeywords=[\"y\"]\n", "twice"),
        ("[[guardrails]]\nname=\"a\"\nkeywords=[\"x\"]\napply_to=[]\n", "apply_to"),
        ("[[guardrails]]\nname=\"a\"\nkeywords=[\"x\"]\nattach=\"team\"\n", "attach"),
    ] {
        let e = crate::Config::parse(toml).unwrap_err();
        assert!(e.0.contains(says), "{toml}: {e}");
    }
    let long = format!(
        "[[guardrails]]\nname=\"a\"\nkeywords=[\"{}\"]\n",
        "x".repeat(300)
    );
    assert!(crate::Config::parse(&long)
        .unwrap_err()
        .0
        .contains("longer than"));
    let e = crate::Config::parse("[[guardrails]]\nname=\"a\"\ndetectors=[\"dna\"]\n").unwrap_err();
    assert!(e.0.contains("unknown detector"), "{e}");
    let c = crate::Config::parse(ISSUE_EXAMPLE).unwrap();
    assert!(c.guards.active("m", Direction::Output).any());
}

/// A deterministic generator, so failures reproduce.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() as usize) % xs.len()]
    }
}

const PIECES: &[&str] = &[
    "hello ",
    "world",
    " ",
    "\n",
    "é",
    "日本",
    "4111 1111 1111 1111",
    "a@b.co",
    "sk-ant-0123456789abcdefghij",
    "123-45-6789",
    "internal only",
    "internal",
    " only",
    "192.168.1.1",
    "+1 415 555 2671",
    "DE89370400440532013000",
    "x",
    "9",
    "-",
    ".",
    "@",
    "Ｉｎｔｅｒｎａｌ",
    "\u{200B}",
];

#[test]
fn masking_never_changes_text_outside_the_matches() {
    let g = guards(
        "[[guardrails]]\nname=\"p\"\ndetectors=[\"pii\",\"secrets\"]\naction=\"mask\"\n\
         [[guardrails]]\nname=\"k\"\nkeywords=[\"internal only\"]\naction=\"mask\"\n",
    );
    let mut rng = Lcg(7);
    for _ in 0..2_000 {
        let n = 1 + rng.next() as usize % 12;
        let text: String = (0..n).map(|_| rng.pick(PIECES)).collect();
        let mut hits = Vec::new();
        g.scan(
            &text,
            g.active("m", Direction::Input),
            0,
            &mut hits,
            &mut Vec::new(),
        );
        let mut c = checker(&g);
        let out = c.check(&text).unwrap().unwrap_or_else(|| text.clone());
        // Rebuild what masking must produce from the hits alone: the text
        // between matches is copied unchanged, each match is a placeholder.
        let mut pos = 0;
        let mut rest = out.as_str();
        for h in &hits {
            let between = &text[pos..h.start];
            assert!(rest.starts_with(between), "{text:?} -> {out:?}");
            rest = &rest[between.len()..];
            assert!(rest.starts_with('['), "{text:?} -> {out:?}");
            let close = rest.find(']').unwrap();
            rest = &rest[close + 1..];
            pos = h.end;
        }
        assert_eq!(rest, &text[pos..], "{text:?} -> {out:?}");
    }
}

/// Feeding a text in pieces through `check_part` (as a stream does)
/// releases exactly what checking it whole produces, wherever it is cut.
#[test]
fn a_match_split_at_any_boundary_is_caught() {
    let g = guards(
        "[[guardrails]]\nname=\"p\"\ndetectors=[\"pii\",\"secrets\"]\naction=\"mask\"\n\
         [[guardrails]]\nname=\"k\"\nkeywords=[\"internal only\"]\naction=\"block\"\n",
    );
    let texts = [
        "card 4111 1111 1111 1111 and mail jane@example.com, key sk-ant-api03-abcdefghijklmnopqrstuv ok",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\nthat was it",
        "call +1 415 555 2671 or ssn 123-45-6789 at 10.0.0.1 é",
    ];
    for text in texts {
        let whole = checker(&g).check(text).unwrap().unwrap();
        for cut in 0..=text.len() {
            for cut2 in [cut, (cut + 7).min(text.len())] {
                if !text.is_char_boundary(cut) || !text.is_char_boundary(cut2) {
                    continue;
                }
                let got =
                    stream_through(&g, &[&text[..cut], &text[cut..cut2], &text[cut2..]]).unwrap();
                assert_eq!(got, whole, "cut at {cut}/{cut2}");
            }
        }
    }
    let blocked = "we discuss internal only matters";
    for cut in 0..=blocked.len() {
        let released = stream_through(&g, &[&blocked[..cut], &blocked[cut..]]).unwrap_err();
        // Nothing of the term was released before the block.
        assert!(!released.contains("internal only"), "{released:?}");
    }
}

/// The stream protocol: released text so far, or the text released before a block.
fn stream_through(g: &Arc<Guardrails>, parts: &[&str]) -> Result<String, String> {
    let mut c = checker(g);
    let (mut held, mut out, mut left) = (String::new(), String::new(), String::new());
    for (i, p) in parts.iter().enumerate() {
        held.push_str(p);
        let last = i + 1 == parts.len();
        let (release, masked) = c
            .check_part(&mut left, &held, last)
            .map_err(|_| out.clone())?;
        out.push_str(masked.as_deref().unwrap_or(&held[..release]));
        held.drain(..release);
    }
    Ok(out)
}

/// Text without spaces that no detector could match (Chinese prose) is
/// released as it comes, beyond the fixed window; a key being written is
/// held from its first character.
#[test]
fn a_stream_holds_candidates_not_prose() {
    let g = guards("[[guardrails]]\nname=\"p\"\ndetectors=[\"secrets\"]\naction=\"mask\"\n");
    let mut c = checker(&g);
    let prose = "这是一个很长的句子没有空格".repeat(20);
    let (release, _) = c.check_part(&mut String::new(), &prose, false).unwrap();
    assert!(
        prose.len() - release <= 65 * 3,
        "held {} bytes",
        prose.len() - release
    );
    // Longer than the window: only the candidate rule holds all of it.
    let key = format!("{prose} sk-ant-api03-{}", "abcdefghij0123456789".repeat(6));
    let (release, _) = c.check_part(&mut String::new(), &key, false).unwrap();
    assert_eq!(&key[release..release + 3], "sk-");
}

/// The fuzz target's sets.
const FUZZ_SETS: &str = "[[guardrails]]\nname=\"pii\"\ndetectors=[\"pii\",\"secrets\"]\naction=\"mask\"\n\
     [[guardrails]]\nname=\"kw\"\nkeywords=[\"project nightingale\",\"internal only\",\"é\",\"ｆｕｌｌ\"]\naction=\"log\"\n\
     [[guardrails]]\nname=\"sub\"\nkeywords=[\"xx\"]\nmatch=\"substring\"\naction=\"mask\"\n";

/// Every input the fuzzer kept as a seed (each regression one a divergence
/// it found: overlapping e-mails, PEM lines, digit runs, AWS pairs cut
/// apart), fed in two parts at every cut, gives what checking it whole
/// gives. The seeds are read from the directory, so a new one is covered
/// as soon as it is committed.
#[test]
fn every_seed_streams_as_it_checks_whole_at_every_cut() {
    let g = guards(FUZZ_SETS);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/guardrails");
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            // The fuzz input's first byte picks its cut.
            String::from_utf8_lossy(bytes.get(1..).unwrap_or_default()).into_owned()
        })
        .collect();
    assert!(texts.len() >= 7, "seeds missing from {dir}");
    texts.push("pay 44 0531 2345 6789 4111 1111 1111 1111 22 33 now".into());
    texts.push("call 415 555 2671 2 or 123-45-6789 0".into());
    let mut failed = Vec::new();
    for text in &texts {
        let whole = checker(&g)
            .check(text)
            .unwrap()
            .unwrap_or_else(|| text.to_owned());
        for cut in (0..=text.len()).filter(|&c| text.is_char_boundary(c)) {
            let got = stream_through(&g, &[&text[..cut], &text[cut..]]).unwrap();
            if got != whole {
                failed.push(format!(
                    "{text:?} cut at {cut}:\n  whole {whole:?}\n  got   {got:?}"
                ));
                break;
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
