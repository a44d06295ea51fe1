//! Personal data in text cells: e-mail addresses, phone numbers, payment-card numbers
//! (Luhn-checked), IBANs (ISO 13616 mod-97 checked), US social-security numbers (area,
//! group and serial rules) and IPv4 / IPv6 addresses. Checksums keep look-alike digit runs
//! (order numbers, timestamps) from being reported as cards or IBANs.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    /// `name@domain.tld`.
    Email,
    /// International or North-American phone numbers.
    Phone,
    /// 13–19 digits passing the Luhn check.
    CreditCard,
    /// IBAN passing the mod-97 check.
    Iban,
    /// US SSN `AAA-GG-SSSS` with valid area, group and serial.
    UsSsn,
    /// Dotted-quad IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Entity {
    /// Every entity, in report order.
    pub const ALL: [Entity; 7] = [
        Entity::Email,
        Entity::Phone,
        Entity::CreditCard,
        Entity::Iban,
        Entity::UsSsn,
        Entity::Ipv4,
        Entity::Ipv6,
    ];

    /// Name used in reports and `[quality] acknowledge`.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Email => "email",
            Entity::Phone => "phone",
            Entity::CreditCard => "credit_card",
            Entity::Iban => "iban",
            Entity::UsSsn => "us_ssn",
            Entity::Ipv4 => "ipv4",
            Entity::Ipv6 => "ipv6",
        }
    }
}

#[allow(
    clippy::expect_used,
    reason = "the patterns are constants checked by the tests"
)]
fn re(p: &str) -> Regex {
    Regex::new(p).expect("valid pattern")
}

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"));
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(\+\d{1,3}[ .-]?)?(\(\d{2,4}\)|\d{2,4})[ .-]\d{3,4}[ .-]\d{3,4}"));
static DIGITS: LazyLock<Regex> = LazyLock::new(|| re(r"\d(?:[ -]?\d){12,18}"));
static IBAN: LazyLock<Regex> = LazyLock::new(|| re(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"));
static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{3})-(\d{2})-(\d{4})\b"));
static IPV4: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"));
static IPV6: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9A-Fa-f:]{2,39}"));

/// The first match of `entity` in `text`, if any.
pub fn find(entity: Entity, text: &str) -> Option<String> {
    spans(entity, text)
        .first()
        .map(|&(a, b)| text[a..b].to_string())
}

/// Every match of `entity` in `text`, as byte ranges in order.
pub fn spans(entity: Entity, text: &str) -> Vec<(usize, usize)> {
    let all = |r: &Regex, ok: &dyn Fn(&str) -> bool| -> Vec<(usize, usize)> {
        r.find_iter(text)
            .filter(|m| ok(m.as_str()))
            .map(|m| (m.start(), m.end()))
            .collect()
    };
    match entity {
        Entity::Email => all(&EMAIL, &|_| true),
        Entity::Phone => PHONE
            .find_iter(text)
            .filter(|m| {
                let digits = m.as_str().chars().filter(char::is_ascii_digit).count();
                (9..=15).contains(&digits) && isolated(text, m.start(), m.end())
            })
            .map(|m| (m.start(), m.end()))
            .collect(),
        Entity::CreditCard => all(&DIGITS, &luhn),
        Entity::Iban => all(&IBAN, &iban_valid),
        Entity::UsSsn => SSN
            .captures_iter(text)
            .filter(|c| {
                let (a, g, s) = (&c[1], &c[2], &c[3]);
                a != "000" && a != "666" && !a.starts_with('9') && g != "00" && s != "0000"
            })
            .filter_map(|c| c.get(0).map(|m| (m.start(), m.end())))
            .collect(),
        Entity::Ipv4 => all(&IPV4, &|m| m.parse::<Ipv4Addr>().is_ok()),
        Entity::Ipv6 => all(&IPV6, &|m| {
            m.matches(':').count() >= 2 && m.parse::<Ipv6Addr>().is_ok()
        }),
    }
}

/// `text` with every piece of personal data replaced by its kind in angle brackets
/// (`<email>`, `<phone>`, …): what a log keeps of free text, readable for monitoring (its
/// words and length stay) without the personal data. Overlapping finds are merged, the
/// earlier kind naming the span.
pub fn redact(text: &str) -> String {
    let mut found: Vec<(usize, usize, Entity)> = Entity::ALL
        .iter()
        .flat_map(|&e| spans(e, text).into_iter().map(move |(a, b)| (a, b, e)))
        .collect();
    if found.is_empty() {
        return text.to_string();
    }
    found.sort_by_key(|&(a, b, _)| (a, std::cmp::Reverse(b)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (a, b, e) in found {
        if b <= at {
            continue;
        }
        if a >= at {
            out.push_str(&text[at..a]);
            out.push('<');
            out.push_str(e.name());
            out.push('>');
        }
        at = b;
    }
    out.push_str(&text[at..]);
    out
}

/// True when the digits in `text[start..end]` are not part of a longer run of digit groups
/// (a card or account number), i.e. no digit touches either end, even across one space,
/// dash or dot.
fn isolated(text: &str, start: usize, end: usize) -> bool {
    let before: Vec<char> = text[..start].chars().rev().take(2).collect();
    let after: Vec<char> = text[end..].chars().take(2).collect();
    let touches = |side: &[char]| match side {
        [c, ..] if c.is_ascii_digit() => true,
        [sep, d, ..] if matches!(sep, ' ' | '-' | '.') && d.is_ascii_digit() => true,
        _ => false,
    };
    !touches(&before) && !touches(&after)
}

/// The Luhn checksum of a digit string (spaces and dashes ignored), for 13–19 digits.
pub fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|&d| d == digits[0]) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The ISO 13616 check: move the first four characters to the end, letters to 10–35, the
/// number mod 97 must be 1.
pub fn iban_valid(s: &str) -> bool {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&s.len()) {
        return false;
    }
    let rotated = s[4..].chars().chain(s[..4].chars());
    let mut rem = 0u32;
    for c in rotated {
        let v = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// A value with most characters hidden: keeps the last 4 alphanumerics of digit-like
/// values and the first letter of each part of an e-mail address.
pub fn mask(entity: Entity, value: &str) -> String {
    match entity {
        Entity::Email => {
            let (user, domain) = value.split_once('@').unwrap_or((value, ""));
            let first = |s: &str| {
                s.chars()
                    .next()
                    .map(|c| format!("{c}***"))
                    .unwrap_or_default()
            };
            format!("{}@{}", first(user), first(domain))
        }
        _ => {
            let keep = value
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .count()
                .saturating_sub(4);
            let mut seen = 0;
            value
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        seen += 1;
                        if seen <= keep { '*' } else { c }
                    } else {
                        c
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_entity_and_rejects_bad_checksums() {
        assert!(find(Entity::Email, "contact: jane.doe@example.org please").is_some());
        assert!(find(Entity::Phone, "call +1 415-555-0132").is_some());
        assert!(find(Entity::Phone, "in 2019").is_none());
        assert!(
            find(Entity::Phone, "4000 0000 0000 0001").is_none(),
            "card-shaped, not a phone"
        );
        assert_eq!(
            find(Entity::CreditCard, "4111 1111 1111 1111").as_deref(),
            Some("4111 1111 1111 1111")
        );
        assert!(
            find(Entity::CreditCard, "4111 1111 1111 1112").is_none(),
            "Luhn fails"
        );
        assert!(find(Entity::CreditCard, "order 20261127093016").is_none());
        assert!(find(Entity::Iban, "GB82 WEST 1234 5698 7654 32").is_some());
        assert!(
            find(Entity::Iban, "GB82 WEST 1234 5698 7654 33").is_none(),
            "mod-97 fails"
        );
        assert!(find(Entity::UsSsn, "ssn 123-45-6789").is_some());
        assert!(find(Entity::UsSsn, "666-45-6789").is_none());
        assert!(find(Entity::Ipv4, "from 192.168.1.20").is_some());
        assert!(find(Entity::Ipv4, "version 1.2.3.999").is_none());
        assert!(find(Entity::Ipv6, "2001:db8::8a2e:370:7334").is_some());
        assert!(find(Entity::Ipv6, "12:30").is_none());
    }

    #[test]
    fn redaction_replaces_every_find_and_keeps_the_words() {
        let text =
            "Mail jo@example.org or ann@b.co, call +44 20 7946 0958; card 4111 1111 1111 1111 ok";
        assert_eq!(
            redact(text),
            "Mail <email> or <email>, call <phone>; card <credit_card> ok"
        );
        assert_eq!(redact("nothing personal here"), "nothing personal here");
        assert_eq!(redact("from 10.0.0.1"), "from <ipv4>");
    }

    #[test]
    fn masks_keep_little() {
        assert_eq!(
            mask(Entity::CreditCard, "4111 1111 1111 1234"),
            "**** **** **** 1234"
        );
        assert_eq!(mask(Entity::Email, "jane@example.org"), "j***@e***");
    }
}
