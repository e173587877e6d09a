//! The folding keyword lists match under: case, full-width forms, the
//! Cyrillic and Greek letters that look like Latin ones, ligatures, and
//! invisible characters. What it folds (NFKC-style, only where a table
//! lookup is cheap):
//! - ASCII and Unicode letters to lower case (`char::to_lowercase`, first char);
//! - full-width ASCII (U+FF01–U+FF5E) to ASCII;
//! - Cyrillic а в е к м н о р с т у х і ј ѕ ԁ and Greek α β ε ζ η ι κ μ ν ο
//!   ρ τ υ χ (both cases) to the Latin letter they look like;
//! - the ligatures ﬀ ﬁ ﬂ ﬃ ﬄ to their letters;
//! - zero-width characters (U+200B–U+200D, U+2060, U+FEFF) and the soft
//!   hyphen dropped; other spaces (NBSP, U+2000–U+200A, U+202F, U+205F,
//!   U+3000) to a plain space.
//!
//! Accents are kept: `café` and `cafe` stay different words.

/// `text` folded, with where each folded byte came from: `origin[i]` is the
/// byte offset in `text` of the character that produced folded byte `i`,
/// and `origin[folded.len()]` is `text.len()`.
pub struct Folded {
    pub text: String,
    pub origin: Vec<u32>,
}

impl Folded {
    /// The span of `text` a folded match `start..end` came from.
    pub fn source_span(&self, start: usize, end: usize) -> (usize, usize) {
        let s = self.origin.get(start).copied().unwrap_or(0) as usize;
        // The end is where the character after the match began, so the
        // invisible characters right after a match go with it only at the end.
        let e = if end == 0 {
            s
        } else {
            let last = self.origin.get(end - 1).copied().unwrap_or(0) as usize;
            let next = self.origin.get(end).copied().unwrap_or(0) as usize;
            next.max(last + 1)
        };
        (s, e)
    }
}

pub fn fold(text: &str) -> Folded {
    let mut out = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len() + 1);
    for (at, c) in text.char_indices() {
        // Most characters are ASCII, one byte each: pushed without the
        // resize below (which dominated the fold of mostly-ASCII text).
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            origin.push(at as u32);
            continue;
        }
        let before = out.len();
        fold_char(c, &mut out);
        origin.resize(origin.len() + (out.len() - before), at as u32);
    }
    origin.push(text.len() as u32);
    Folded { text: out, origin }
}

/// Folds a keyword the way [`fold`] folds text.
pub fn fold_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        fold_char(c, &mut out);
    }
    out
}

fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    match c {
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => {}
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => {
            out.push(' ')
        }
        '\u{FF01}'..='\u{FF5E}' => {
            let ascii = char::from_u32(c as u32 - 0xFEE0).unwrap_or(' ');
            out.push(ascii.to_ascii_lowercase());
        }
        '\u{FB00}' => out.push_str("ff"),
        '\u{FB01}' => out.push_str("fi"),
        '\u{FB02}' => out.push_str("fl"),
        '\u{FB03}' => out.push_str("ffi"),
        '\u{FB04}' => out.push_str("ffl"),
        _ => match look_alike(c) {
            Some(latin) => out.push(latin),
            None => out.push(c.to_lowercase().next().unwrap_or(c)),
        },
    }
}

fn look_alike(c: char) -> Option<char> {
    Some(match c {
        'а' | 'А' | 'α' | 'Α' => 'a',
        'в' | 'В' | 'β' | 'Β' => 'b',
        'е' | 'Е' | 'ε' | 'Ε' => 'e',
        'к' | 'К' | 'κ' | 'Κ' => 'k',
        'м' | 'М' | 'μ' | 'Μ' => 'm',
        'н' | 'Н' | 'η' | 'Η' => 'h',
        'о' | 'О' | 'ο' | 'Ο' => 'o',
        'р' | 'Р' | 'ρ' | 'Ρ' => 'p',
        'с' | 'С' => 'c',
        'т' | 'Т' | 'τ' | 'Τ' => 't',
        'у' | 'У' | 'υ' | 'Υ' => 'y',
        'х' | 'Х' | 'χ' | 'Χ' => 'x',
        'і' | 'І' | 'ι' | 'Ι' => 'i',
        'ј' | 'Ј' => 'j',
        'ѕ' | 'Ѕ' => 's',
        'ԁ' => 'd',
        'ζ' | 'Ζ' => 'z',
        'ν' | 'Ν' => 'v',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_and_invisibles_fold_to_plain_latin() {
        let f = fold("Рrоjесt\u{200B} ＮＩＧＨＴingale");
        assert_eq!(f.text, "project nightingale");
        // Every folded byte points into the original, at a character start.
        assert!(f
            .origin
            .iter()
            .all(|&o| "Рrоjесt\u{200B} ＮＩＧＨＴingale".is_char_boundary(o as usize)));
        let (s, e) = f.source_span(0, 7);
        assert_eq!(&"Рrоjесt\u{200B} ＮＩＧＨＴingale"[s..e], "Рrоjесt\u{200B}");
    }

    #[test]
    fn accents_stay() {
        assert_eq!(fold_str("Café"), "café");
    }
}
