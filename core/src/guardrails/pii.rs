//! Personal data detectors, each validated so that it does not fire on
//! every number: e-mail addresses, phone numbers (E.164 and common national
//! forms with separators), payment cards (Luhn and an issuer prefix), IBANs
//! (country length and mod-97), US social security numbers (area, group and
//! serial rules), IPv4 and IPv6 addresses. Hand-written scanners: one pass
//! each, no regex engine in the Worker.

use super::Found;
use super::Kind;

/// Addresses whose `@` is at or after `from` (an address starts before its `@`,
/// so none that starts at or after `from` is missed).
pub fn emails(text: &str, from: usize, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    for at in memchr::memchr_iter(b'@', &b[from..]).map(|i| from + i) {
        let local_ok = |c: u8| c.is_ascii_alphanumeric() || b"._%+-'".contains(&c);
        let mut s = at;
        while s > 0 && local_ok(b[s - 1]) {
            s -= 1;
        }
        while s < at && matches!(b[s], b'.' | b'\'') {
            s += 1;
        }
        // Each `@` is decided alone, from the characters around it (not
        // from an earlier address that took part of them): a stream sees
        // only a window of the text and must decide as checking it whole.
        // Overlapping addresses merge into one match later.
        if s == at {
            continue;
        }
        let mut e = at + 1;
        let mut label_len = 0;
        let mut labels = 0;
        let mut last_label_alpha = true;
        let mut end_ok = at + 1;
        while e < b.len() {
            let c = b[e];
            if c.is_ascii_alphanumeric() || c == b'-' {
                label_len += 1;
                last_label_alpha &= c.is_ascii_alphabetic();
                e += 1;
                if labels >= 1 && label_len >= 2 && last_label_alpha {
                    end_ok = e;
                }
            } else if c == b'.' && label_len > 0 {
                labels += 1;
                label_len = 0;
                last_label_alpha = true;
                e += 1;
            } else {
                break;
            }
        }
        if end_ok > at + 1 {
            out.push(Found::new(s, end_ok, Kind::Email));
        }
    }
}

/// Digit groups and the short separators between them, scanned once; each
/// run of groups is tried as a card, an SSN, a phone number and an IPv4
/// address, longest first from each group, so that a number next to
/// another one (a card and its expiry date) is still found.
///
/// Only runs from the last space after a letter before `from` are scanned:
/// neither a run nor a word the scan skips spans such a space, so the scan
/// reaches it as it would from the start, and every number that starts at
/// or after `from` is found the same.
pub fn numbers(text: &str, from: usize, out: &mut Vec<Found>, want: Want) {
    let b = text.as_bytes();
    let mut i = b[..from]
        .windows(2)
        .rposition(|w| w[0].is_ascii_alphabetic() && w[1] == b' ')
        .map_or(0, |p| p + 2);
    let mut groups: Vec<(usize, usize)> = Vec::new();
    while i < b.len() {
        let Some(off) = b[i..].iter().position(u8::is_ascii_digit) else {
            break;
        };
        let start = i + off;
        // A digit glued to a letter or underscore is part of a word (an id, a hash).
        if start > 0 && (b[start - 1].is_ascii_alphabetic() || b[start - 1] == b'_') {
            i = skip_word(b, start);
            continue;
        }
        groups.clear();
        let mut j = start;
        loop {
            let g = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            groups.push((g, j));
            // Up to two separator characters, then a digit, continue the run.
            let mut k = j;
            while k < b.len() && k - j < 2 && matches!(b[k], b' ' | b'-' | b'.' | b'(' | b')') {
                k += 1;
            }
            if k > j && k < b.len() && b[k].is_ascii_digit() {
                j = k;
                continue;
            }
            break;
        }
        let end = groups.last().map_or(start, |g| g.1);
        if end < b.len() && (b[end].is_ascii_alphabetic() || b[end] == b'_') {
            i = skip_word(b, end);
            continue;
        }
        classify_run(b, &groups, out, want);
        i = end.max(start + 1);
    }
}

fn skip_word(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    i
}

/// Which numeric detectors are on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    pub card: bool,
    pub ssn: bool,
    pub phone: bool,
    pub ipv4: bool,
}

/// More digits than any numeric detector takes (a card has at most 19):
/// longer spans of a run are not tried.
const MAX_DIGITS: usize = 19;

fn classify_run(b: &[u8], groups: &[(usize, usize)], out: &mut Vec<Found>, want: Want) {
    let mut first = 0;
    while first < groups.len() {
        // The longest span from `first` that is not over the digit limit.
        let mut digits = 0;
        let mut longest = first;
        for (k, g) in groups.iter().enumerate().skip(first) {
            digits += g.1 - g.0;
            if digits > MAX_DIGITS {
                break;
            }
            longest = k;
        }
        let taken = (first..=longest)
            .rev()
            .find_map(|last| Some((last, classify(b, &groups[first..=last], want)?)));
        match taken {
            Some((last, found)) => {
                out.push(found);
                first = last + 1;
            }
            None => first += 1,
        }
    }
}

/// A run of digit groups as one number, or `None`. Allocates nothing: it
/// runs for every span of every run of digits in the text.
fn classify(b: &[u8], groups: &[(usize, usize)], want: Want) -> Option<Found> {
    // An IPv4 address has four groups; every other number at least eight
    // digits: most numbers in prose (years, counts, versions) stop here.
    if groups.len() < 4 && groups.iter().map(|g| g.1 - g.0).sum::<usize>() < 8 {
        return None;
    }
    let (start, end) = (groups[0].0, groups[groups.len() - 1].1);
    let sep = |k: usize| &b[groups[k].1..groups[k + 1].0];
    let n_seps = groups.len() - 1;
    let mut digits = [0u8; MAX_DIGITS];
    let mut n = 0;
    for &(s, e) in groups {
        for &d in &b[s..e] {
            *digits.get_mut(n)? = d - b'0';
            n += 1;
        }
    }
    let digits = &digits[..n];
    let before = start.checked_sub(1).map(|i| b[i]);
    let after = b.get(end).copied();
    // A number continued by `.5` or `,000` is a figure, not an identifier.
    let continues = |c: Option<u8>, next: Option<u8>| {
        matches!(c, Some(b'.' | b',')) && next.is_some_and(|n| n.is_ascii_digit())
    };
    if continues(after, b.get(end + 1).copied())
        || (before.is_some_and(|c| matches!(c, b'.' | b','))
            && start >= 2
            && b[start - 2].is_ascii_digit())
    {
        return None;
    }
    let all_dots = (0..n_seps).all(|k| sep(k) == b".");
    if want.ipv4 && n_seps == 3 && all_dots {
        let ok = groups.iter().all(|&(s, e)| {
            let part = &b[s..e];
            part.len() <= 3
                && (part.len() == 1 || part[0] != b'0')
                && part.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) <= 255
        });
        if ok {
            return Some(Found::new(start, end, Kind::IpAddress));
        }
    }
    if (0..n_seps).any(|k| sep(k).contains(&b'.')) && !all_dots {
        return None;
    }
    let lens = |want: &[usize]| {
        want.len() == groups.len() && groups.iter().zip(want).all(|(g, &l)| g.1 - g.0 == l)
    };
    if want.ssn
        && groups.len() == 3
        && sep(0) == sep(1)
        && matches!(sep(0), b"-" | b" ")
        && lens(&[3, 2, 4])
        && before != Some(b'+')
    {
        let area = num(&digits[0..3]);
        let group = num(&digits[3..5]);
        let serial = num(&digits[5..9]);
        if area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 {
            return Some(Found::new(start, end, Kind::UsSsn));
        }
    }
    let plain_seps = (0..n_seps).all(|k| matches!(sep(k), b" " | b"-"));
    if want.card
        && plain_seps
        && (13..=19).contains(&digits.len())
        && luhn(digits)
        && issuer(digits)
    {
        return Some(Found::new(start, end, Kind::PaymentCard));
    }
    if want.phone {
        return phone(b, n_seps, &lens, digits, start, end);
    }
    None
}

fn phone(
    b: &[u8],
    n_seps: usize,
    lens: &dyn Fn(&[usize]) -> bool,
    digits: &[u8],
    start: usize,
    end: usize,
) -> Option<Found> {
    let before = start.checked_sub(1).map(|i| b[i]);
    if before == Some(b'+') {
        // E.164: a country code that does not start with 0, 8 to 15 digits.
        let ok = digits[0] != 0 && (8..=15).contains(&digits.len());
        return ok.then(|| Found::new(start - 1, end, Kind::Phone));
    }
    if n_seps == 0 {
        return None;
    }
    let open = before == Some(b'(');
    let s = if open { start - 1 } else { start };
    // North American: (NXX) NXX-XXXX, NXX-NXX-XXXX, NXX.NXX.XXXX, 1-NXX-NXX-XXXX.
    let nanp = if lens(&[3, 3, 4]) {
        Some(digits)
    } else if lens(&[1, 3, 3, 4]) && digits[0] == 1 {
        Some(&digits[1..])
    } else {
        None
    };
    if let Some(d) = nanp {
        if d[0] >= 2 && d[3] >= 2 {
            return Some(Found::new(s, end, Kind::Phone));
        }
    }
    // National forms with a trunk 0: `020 7946 0958`, `030 12345678`, `06-12345678`.
    if digits[0] == 0 && digits.get(1).is_some_and(|&d| d != 0) && (10..=11).contains(&digits.len())
    {
        return Some(Found::new(s, end, Kind::Phone));
    }
    None
}

fn num(d: &[u8]) -> u32 {
    d.iter().fold(0, |n, &x| n * 10 + u32::from(x))
}

pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Prefixes of the card networks in use (Visa, Mastercard, Amex, Discover,
/// JCB, Diners, UnionPay, Maestro): a Luhn-valid number with none of them
/// is more likely an order number.
fn issuer(d: &[u8]) -> bool {
    let p2 = num(&d[..2]);
    let p4 = num(&d[..4]);
    match d[0] {
        4 => true,
        5 => (51..=55).contains(&p2) || (50..=59).contains(&p2) && d.len() >= 12,
        2 => (2221..=2720).contains(&p4),
        3 => matches!(p2, 34 | 37 | 35 | 36 | 38 | 39 | 30),
        6 => matches!(p2, 60 | 62 | 64 | 65 | 63 | 67),
        _ => false,
    }
}

/// IBAN lengths by country (ISO 13616 registry).
const IBAN_LENGTHS: &str = "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BR29BY28CH21CR22CY28CZ24DE22DK18DO28EE20EG29ES24FI18FO18FR27GB22GE22GI23GL18GR27GT28HR21HU28IE22IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21LT20LU20LV21MC27MD24ME22MK19MR27MT31MU30NL18NO15PK24PL28PS29PT25QA29RO24RS22SA24SC31SE24SI19SK24SM27ST25SV28TL23TN24TR26UA29VA22VG24XK20";

fn iban_length(country: &[u8]) -> Option<usize> {
    IBAN_LENGTHS
        .as_bytes()
        .chunks(4)
        .find(|c| &c[..2] == country)
        .map(|c| usize::from(c[2] - b'0') * 10 + usize::from(c[3] - b'0'))
}

/// IBANs, written solid or in groups of four separated by single spaces,
/// that start at or after `from` (each start is decided alone).
pub fn ibans(text: &str, from: usize, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let mut i = from;
    while i + 4 <= b.len() {
        // A byte neither digit nor capital at `i + 3` rules out the starts
        // `i` to `i + 3` at once (each needs a check digit or a capital there).
        if !b[i + 3].is_ascii_alphanumeric() || b[i + 3].is_ascii_lowercase() {
            i += 4;
            continue;
        }
        // The two check digits first: rarer in prose than capitals.
        if !(b[i + 2].is_ascii_digit()
            && b[i + 3].is_ascii_digit()
            && b[i].is_ascii_uppercase()
            && b[i + 1].is_ascii_uppercase()
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric()))
        {
            i += 1;
            continue;
        }
        let Some(want) = iban_length(&b[i..i + 2]) else {
            i += 1;
            continue;
        };
        let mut chars = [0u8; 34];
        let mut n = 0;
        let mut j = i;
        while j < b.len() && n < want {
            let c = b[j];
            if c.is_ascii_digit() || c.is_ascii_uppercase() {
                chars[n] = c;
                n += 1;
                j += 1;
            } else if c == b' ' && j + 1 < b.len() && b[j + 1].is_ascii_alphanumeric() {
                j += 1;
            } else {
                break;
            }
        }
        let ends_word = j == b.len() || !b[j].is_ascii_alphanumeric();
        // The next start is tried even inside this match (overlaps merge
        // later), so that no decision hangs on the ones before it.
        if n == want && ends_word && mod97(&chars[..n]) == 1 {
            out.push(Found::new(i, j, Kind::Iban));
        }
        i += 1;
    }
}

fn mod97(chars: &[u8]) -> u32 {
    let rotated = chars[4..].iter().chain(&chars[..4]);
    rotated.fold(0u32, |acc, &c| {
        if c.is_ascii_digit() {
            (acc * 10 + u32::from(c - b'0')) % 97
        } else {
            (acc * 100 + u32::from(c - b'A') + 10) % 97
        }
    })
}

/// IPv6 addresses: runs of hex digits and colons with at least two colons
/// that parse as an address (so times like `12:30:45` do not).
pub fn ipv6(text: &str, out: &mut Vec<Found>) {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr::memchr(b':', &b[i..]) {
        let colon = i + off;
        let mut s = colon;
        while s > 0 && (b[s - 1].is_ascii_hexdigit() || b[s - 1] == b':') {
            s -= 1;
        }
        let mut e = colon;
        while e < b.len() && (b[e].is_ascii_hexdigit() || b[e] == b':' || b[e] == b'.') {
            e += 1;
        }
        while e > colon && b[e - 1] == b'.' {
            e -= 1;
        }
        let glued = (s > 0 && (b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'_'))
            || (e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'_'));
        let candidate = &text[s..e];
        if !glued
            && candidate.bytes().filter(|&c| c == b':').count() >= 2
            && candidate.len() >= 3
            && candidate.bytes().any(|c| c.is_ascii_hexdigit())
            && candidate.parse::<std::net::Ipv6Addr>().is_ok()
        {
            out.push(Found::new(s, e, Kind::IpAddress));
        }
        i = e.max(colon + 1);
        if i >= b.len() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<(Kind, &str)> {
        let mut out = Vec::new();
        emails(text, 0, &mut out);
        numbers(
            text,
            0,
            &mut out,
            Want {
                card: true,
                ssn: true,
                phone: true,
                ipv4: true,
            },
        );
        ibans(text, 0, &mut out);
        ipv6(text, &mut out);
        out.iter()
            .map(|f| (f.kind, &text[f.start..f.end]))
            .collect()
    }

    #[test]
    fn emails_need_a_domain_with_a_letter_tld() {
        assert_eq!(
            all("mail jane.doe+x@example.co.uk."),
            [(Kind::Email, "jane.doe+x@example.co.uk")]
        );
        assert!(all("user@localhost, @handle, a@b.c, x@1.2").is_empty());
    }

    #[test]
    fn cards_need_luhn_and_an_issuer() {
        assert_eq!(
            all("card 4111 1111 1111 1111 exp"),
            [(Kind::PaymentCard, "4111 1111 1111 1111")]
        );
        assert_eq!(
            all("4111-1111-1111-1111 12/26"),
            [(Kind::PaymentCard, "4111-1111-1111-1111")]
        );
        assert_eq!(
            all("amex 378282246310005"),
            [(Kind::PaymentCard, "378282246310005")]
        );
        // Luhn fails; Luhn passes but no issuer starts with 1 or 9.
        assert!(all("4111 1111 1111 1112").is_empty());
        assert!(all("order 1000000000000008").is_empty());
        assert!(all("id_4111111111111111 and x4111111111111111").is_empty());
    }

    #[test]
    fn ssns_follow_the_area_group_serial_rules() {
        assert_eq!(all("ssn 123-45-6789."), [(Kind::UsSsn, "123-45-6789")]);
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "912-12-3456",
            "123-00-4567",
            "123-45-0000",
            "123-45-678",
        ] {
            assert!(all(bad).iter().all(|f| f.0 != Kind::UsSsn), "{bad}");
        }
    }

    #[test]
    fn phones_in_international_and_national_forms() {
        assert_eq!(
            all("call +1 415 555 2671 now"),
            [(Kind::Phone, "+1 415 555 2671")]
        );
        assert_eq!(all("(415) 555-2671"), [(Kind::Phone, "(415) 555-2671")]);
        assert_eq!(all("415.555.2671"), [(Kind::Phone, "415.555.2671")]);
        assert_eq!(all("+442079460958"), [(Kind::Phone, "+442079460958")]);
        assert_eq!(all("tel 020 7946 0958"), [(Kind::Phone, "020 7946 0958")]);
        // Bare digit runs, years, prices and versions are not phone numbers.
        assert!(all("4155552671 in 2024 for 1,299.00 on v1.2.3").is_empty());
        assert!(all("call 123-555-2671").is_empty());
    }

    #[test]
    fn ipv4_octets_are_bounded() {
        assert_eq!(
            all("host 192.168.0.1:80"),
            [(Kind::IpAddress, "192.168.0.1")]
        );
        assert!(all("256.1.1.1 1.2.3 01.2.3.4").is_empty());
    }

    #[test]
    fn ipv6_parses_and_times_do_not() {
        assert_eq!(
            all("at 2001:db8::ff00:42:8329 ok"),
            [(Kind::IpAddress, "2001:db8::ff00:42:8329")]
        );
        assert_eq!(all("::1"), [(Kind::IpAddress, "::1")]);
        assert!(all("at 12:30:45 and a::b::c and std::fmt").is_empty());
    }

    #[test]
    fn ibans_need_the_country_length_and_mod_97() {
        // (The digits inside also read as a phone number; the scan keeps the longer match.)
        let de = all("DE89 3704 0044 0532 0130 00.");
        assert!(
            de.contains(&(Kind::Iban, "DE89 3704 0044 0532 0130 00")),
            "{de:?}"
        );
        assert_eq!(
            all("GB82WEST12345698765432"),
            [(Kind::Iban, "GB82WEST12345698765432")]
        );
        assert!(all("DE89 3704 0044 0532 0130 01")
            .iter()
            .all(|f| f.0 != Kind::Iban));
        assert!(all("GB82WEST1234569876543").is_empty());
    }

    #[test]
    fn luhn_known_values() {
        assert!(luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
    }
}
