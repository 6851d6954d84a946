//! Decoding of DICOM text values under Specific Character Set (0008,0005),
//! including ISO 2022 code extensions (PS3.3 C.12.1.1.2, PS3.5 §6.1).
//!
//! Why this exists: dicom-rs 0.10 decodes text values (SH, LO, ST, LT, UT,
//! UC, PN) with only the *first* value of Specific Character Set and does
//! not interpret ISO 2022 escape sequences. Data sets that use code
//! extensions — Japanese (`\ISO 2022 IR 87`, `ISO 2022 IR 13\ISO 2022 IR 87`),
//! Korean (`\ISO 2022 IR 149`), Chinese (`\ISO 2022 IR 58`), Thai with
//! escapes, mixed Latin/Cyrillic, … — therefore come out as mojibake with
//! raw escape characters in them, which would end up in the database and in
//! DICOMweb/C-FIND answers.
//!
//! [`CharsetContext`] holds the character set state of one data set. It can
//! decode raw value bytes with the full ISO 2022 rules ([`CharsetContext::decode`]),
//! or repair a string that dicom-rs already decoded with the first-value codec
//! by re-encoding it to the original bytes and decoding those properly
//! ([`CharsetContext::repair`]).
//!
//! Decoding model (8-bit ISO 2022 as used by DICOM):
//! * bytes 0x21..=0x7E are interpreted through G0 (ASCII, JIS X 0201 Romaji,
//!   JIS X 0208, JIS X 0212), bytes 0xA0..=0xFF (and 0x80..=0x9F) through G1
//!   (ISO 8859-x, JIS X 0201 Katakana, TIS 620, KS X 1001, GB 2312);
//! * the initial G0/G1 come from value 1 (empty value 1 = default repertoire);
//! * recognised escape sequences designate a new G0 or G1; unknown but well
//!   formed escape sequences are dropped, a stray ESC is kept as U+001B;
//! * the state returns to the initial one at every C0 control character
//!   other than ESC (CR, LF, FF, TAB, …) and, for Person Names, at the
//!   component/group delimiters `^` and `=`;
//! * `ISO_IR 192`, `GB18030` and `GBK` do not use code extensions: when one of
//!   them is value 1 the whole value is decoded with it.
//!
//! Nothing here panics on any input: invalid sequences become U+FFFD (or, for
//! unknown character sets and undesignated G1, Latin-1 byte→char).

use dicom_encoding::text::{SpecificCharacterSet, TextCodec};
use encoding_rs::Encoding;

const ESC: u8 = 0x1B;

/// A character set that can be designated to G0 (the GL, 0x21..=0x7E half).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum G0 {
    /// ISO-IR 6 (ASCII), `ESC ( B`.
    #[default]
    Ascii,
    /// ISO-IR 14, JIS X 0201 Romaji, `ESC ( J` (0x5C is YEN SIGN, 0x7E is OVERLINE).
    Romaji,
    /// JIS X 0201 Katakana in GL, `ESC ( I` (not a DICOM term; accepted leniently).
    Katakana,
    /// ISO-IR 87, JIS X 0208, `ESC $ B` (two bytes per character).
    Jis0208,
    /// ISO-IR 159, JIS X 0212, `ESC $ ( D` (two bytes per character).
    Jis0212,
}

/// A character set that can be designated to G1 (the GR, 0x80..=0xFF half).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G1 {
    /// ISO-IR 100, ISO 8859-1: byte → same code point.
    Latin1,
    /// Another ISO 8859 part; 0x80..=0x9F are C1 controls, 0xA0..=0xFF via the table.
    Iso8859(&'static Encoding),
    /// ISO-IR 13, JIS X 0201 Katakana.
    Katakana,
    /// ISO-IR 166, TIS 620 (decoded as windows-874, like dicom-rs).
    Thai,
    /// ISO-IR 149, KS X 1001 (EUC-KR).
    Ksx1001,
    /// ISO-IR 58, GB 2312 (EUC-CN, decoded with GBK).
    Gb2312,
}

/// Character sets without code extensions: the whole value uses one codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whole {
    Utf8,
    Gb18030,
    Gbk,
}

impl Whole {
    fn encoding(self) -> &'static Encoding {
        match self {
            Whole::Utf8 => encoding_rs::UTF_8,
            Whole::Gb18030 => encoding_rs::GB18030,
            Whole::Gbk => encoding_rs::GBK,
        }
    }
}

/// What one defined term of Specific Character Set means for decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Term {
    /// Empty value, `ISO_IR 6`, `ISO 2022 IR 6`.
    Default,
    /// Initial G0 / G1 of a term usable with ISO 2022 rules.
    Iso2022 { g0: G0, g1: Option<G1> },
    /// A term without code extensions (UTF-8, GB18030, GBK).
    Whole(Whole),
    /// A term we do not know.
    Unknown,
}

impl Term {
    fn g1(self) -> Option<G1> {
        match self {
            Term::Iso2022 { g1, .. } => g1,
            _ => None,
        }
    }
}

/// Parses one value of Specific Character Set. Returns the term and whether
/// it was spelled as an ISO 2022 term (`ISO 2022 IR n`).
fn parse_term(value: &str) -> (Term, bool) {
    let norm: String = value
        .trim_matches(|c: char| c == ' ' || c == '\0')
        .chars()
        .map(|c| match c {
            '_' | '-' => ' ',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    if norm.is_empty() {
        return (Term::Default, false);
    }
    let (number, iso2022) = if let Some(n) = norm.strip_prefix("ISO 2022 IR ") {
        (n.trim(), true)
    } else if let Some(n) = norm.strip_prefix("ISO IR ") {
        (n.trim(), false)
    } else {
        let term = match norm.as_str() {
            "GB18030" => Term::Whole(Whole::Gb18030),
            "GBK" => Term::Whole(Whole::Gbk),
            "GB2312" => Term::Iso2022 {
                g0: G0::Ascii,
                g1: Some(G1::Gb2312),
            },
            "UTF 8" | "UTF8" => Term::Whole(Whole::Utf8),
            "DEFAULT" => Term::Default,
            _ => Term::Unknown,
        };
        return (term, false);
    };
    let single = |g1: G1| Term::Iso2022 {
        g0: G0::Ascii,
        g1: Some(g1),
    };
    let term = match number {
        "6" => Term::Default,
        "100" => single(G1::Latin1),
        "101" => single(G1::Iso8859(encoding_rs::ISO_8859_2)),
        "109" => single(G1::Iso8859(encoding_rs::ISO_8859_3)),
        "110" => single(G1::Iso8859(encoding_rs::ISO_8859_4)),
        "144" => single(G1::Iso8859(encoding_rs::ISO_8859_5)),
        "127" => single(G1::Iso8859(encoding_rs::ISO_8859_6)),
        "126" => single(G1::Iso8859(encoding_rs::ISO_8859_7)),
        "138" => single(G1::Iso8859(encoding_rs::ISO_8859_8)),
        // ISO 8859-9 equals windows-1254 in 0xA0..=0xFF; C1 is handled separately.
        "148" => single(G1::Iso8859(encoding_rs::WINDOWS_1254)),
        "203" => single(G1::Iso8859(encoding_rs::ISO_8859_15)),
        "166" => single(G1::Thai),
        "13" => Term::Iso2022 {
            g0: G0::Romaji,
            g1: Some(G1::Katakana),
        },
        // Multi-byte G0 sets as value 1 (unusual): start in ASCII, like
        // dicom-rs's ISO-2022-JP decoder does.
        "87" | "159" => Term::Iso2022 {
            g0: G0::Ascii,
            g1: None,
        },
        "149" => single(G1::Ksx1001),
        "58" => single(G1::Gb2312),
        "192" if !iso2022 => Term::Whole(Whole::Utf8),
        _ => Term::Unknown,
    };
    (term, iso2022)
}

/// A designation made by an escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Designation {
    G0(G0),
    G1(G1),
}

/// Parses an escape sequence starting at `bytes[0] == ESC`.
///
/// Returns `None` when the bytes do not form a well-formed ISO 2022 escape
/// sequence (ESC, intermediates 0x20..=0x2F, final 0x30..=0x7E); otherwise the
/// length of the sequence and the designation if it is one we know.
fn parse_escape(bytes: &[u8]) -> Option<(usize, Option<Designation>)> {
    if bytes.first() != Some(&ESC) {
        return None;
    }
    let mut end = 1;
    while bytes.get(end).is_some_and(|b| (0x20..=0x2F).contains(b)) {
        end += 1;
    }
    let fin = *bytes.get(end)?;
    if !(0x30..=0x7E).contains(&fin) {
        return None;
    }
    let len = end + 1;
    let seq = &bytes[1..len];
    use Designation as D;
    let designation = match seq {
        b"(B" | b"(@" => Some(D::G0(G0::Ascii)),
        b"(J" => Some(D::G0(G0::Romaji)),
        b"(I" => Some(D::G0(G0::Katakana)),
        b"$B" | b"$@" | b"$(B" | b"$(@" => Some(D::G0(G0::Jis0208)),
        b"$(D" => Some(D::G0(G0::Jis0212)),
        b")I" => Some(D::G1(G1::Katakana)),
        b"-A" => Some(D::G1(G1::Latin1)),
        b"-B" => Some(D::G1(G1::Iso8859(encoding_rs::ISO_8859_2))),
        b"-C" => Some(D::G1(G1::Iso8859(encoding_rs::ISO_8859_3))),
        b"-D" => Some(D::G1(G1::Iso8859(encoding_rs::ISO_8859_4))),
        b"-L" => Some(D::G1(G1::Iso8859(encoding_rs::ISO_8859_5))),
        b"-G" => Some(D::G1(G1::Iso8859(encoding_rs::ISO_8859_6))),
        b"-F" => Some(D::G1(G1::Iso8859(encoding_rs::ISO_8859_7))),
        b"-H" => Some(D::G1(G1::Iso8859(encoding_rs::ISO_8859_8))),
        b"-M" => Some(D::G1(G1::Iso8859(encoding_rs::WINDOWS_1254))),
        b"-b" => Some(D::G1(G1::Iso8859(encoding_rs::ISO_8859_15))),
        b"-T" => Some(D::G1(G1::Thai)),
        b"$)C" => Some(D::G1(G1::Ksx1001)),
        b"$)A" => Some(D::G1(G1::Gb2312)),
        _ => None,
    };
    Some((len, designation))
}

/// Appends bytes decoded without BOM sniffing, replacing errors with U+FFFD.
fn push_decoded(out: &mut String, encoding: &'static Encoding, bytes: &[u8]) {
    out.push_str(&encoding.decode_without_bom_handling(bytes).0);
}

/// Latin-1 byte → char (total, reversible).
fn latin1_char(b: u8) -> char {
    char::from(b)
}

/// JIS X 0201 Katakana: 0xA1..=0xDF (or 0x21..=0x5F in GL) → U+FF61..=U+FF9F.
fn katakana_char(offset_from_first: u8) -> char {
    char::from_u32(0xFF61 + u32::from(offset_from_first)).unwrap_or('\u{FFFD}')
}

/// Decodes a run of GR bytes (all >= 0x80) through the given G1 set.
fn decode_gr_run(out: &mut String, g1: Option<G1>, run: &[u8]) {
    match g1 {
        None | Some(G1::Latin1) => out.extend(run.iter().copied().map(latin1_char)),
        Some(G1::Iso8859(encoding)) => {
            for &b in run {
                if b < 0xA0 {
                    out.push(latin1_char(b));
                } else {
                    push_decoded(out, encoding, &[b]);
                }
            }
        }
        Some(G1::Katakana) => {
            for &b in run {
                if (0xA1..=0xDF).contains(&b) {
                    out.push(katakana_char(b - 0xA1));
                } else {
                    out.push('\u{FFFD}');
                }
            }
        }
        Some(G1::Thai) => push_decoded(out, encoding_rs::WINDOWS_874, run),
        Some(G1::Ksx1001) => push_decoded(out, encoding_rs::EUC_KR, run),
        Some(G1::Gb2312) => push_decoded(out, encoding_rs::GBK, run),
    }
}

/// Is `b` a Shift_JIS lead byte that is not a JIS X 0201 katakana byte?
fn is_sjis_lead(b: u8) -> bool {
    (0x81..=0x9F).contains(&b) || (0xE0..=0xFC).contains(&b)
}

fn is_sjis_trail(b: u8) -> bool {
    (0x40..=0x7E).contains(&b) || (0x80..=0xFC).contains(&b)
}

/// The character set context of one data set, from the values of Specific Character Set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CharsetContext {
    /// Value 1 exactly as given: selects the codec dicom-rs used.
    first_raw: String,
    /// Initial G0 (from value 1).
    initial_g0: G0,
    /// Initial G1 (from value 1); `None` for the default repertoire.
    initial_g1: Option<G1>,
    /// Used for GR bytes while no G1 is designated: the first G1 set among
    /// the other values (writers often omit the escape sequence), else Latin-1.
    fallback_g1: Option<G1>,
    /// Value 1 is a character set without code extensions.
    whole: Option<Whole>,
    needs_fixing: bool,
}

impl CharsetContext {
    /// `values` = the backslash-separated values of (0008,0005) as dicom-rs returned them (may be empty, may contain "" as first value).
    pub fn new(values: &[String]) -> Self {
        let Some(first_raw) = values.first() else {
            return Self::default();
        };
        let (first, first_is_2022) = parse_term(first_raw);
        let (initial_g0, initial_g1, whole) = match first {
            Term::Default | Term::Unknown => (G0::Ascii, None, None),
            Term::Iso2022 { g0, g1 } => (g0, g1, None),
            Term::Whole(w) => (G0::Ascii, None, Some(w)),
        };
        let fallback_g1 = if initial_g1.is_none() {
            values.iter().skip(1).find_map(|v| parse_term(v).0.g1())
        } else {
            None
        };
        let dicom_rs_knows_first =
            first_raw.trim().is_empty() || SpecificCharacterSet::from_code(first_raw).is_some();
        let needs_fixing = values.len() > 1 || first_is_2022 || !dicom_rs_knows_first;
        Self {
            first_raw: first_raw.clone(),
            initial_g0,
            initial_g1,
            fallback_g1,
            whole,
            needs_fixing,
        }
    }

    /// True when dicom-rs's own decoding cannot be trusted: several values, or any "ISO 2022 ..." term with code extensions, or a term dicom-rs does not know.
    pub fn needs_fixing(&self) -> bool {
        self.needs_fixing
    }

    /// Decode raw bytes of ONE text value (already split at backslash) with full ISO 2022 / PS3.5 §6.1 rules. `is_pn` = value is a Person Name (the escape state resets to the initial charset at each '^' and '=' and at CR, LF, FF, TAB).
    pub fn decode(&self, raw: &[u8], is_pn: bool) -> String {
        if let Some(whole) = self.whole {
            return whole
                .encoding()
                .decode_without_bom_handling(raw)
                .0
                .into_owned();
        }
        let mut out = String::with_capacity(raw.len() + raw.len() / 2);
        let mut g0 = self.initial_g0;
        let mut g1 = self.initial_g1;
        let mut i = 0;
        while let Some(&b) = raw.get(i) {
            if b == ESC {
                match parse_escape(&raw[i..]) {
                    Some((len, designation)) => {
                        match designation {
                            Some(Designation::G0(set)) => g0 = set,
                            Some(Designation::G1(set)) => g1 = Some(set),
                            None => {}
                        }
                        i += len;
                    }
                    None => {
                        out.push('\u{1B}');
                        i += 1;
                    }
                }
                continue;
            }
            if b < 0x20 {
                // CR, LF, FF, TAB and other controls: back to the initial state.
                g0 = self.initial_g0;
                g1 = self.initial_g1;
                out.push(char::from(b));
                i += 1;
                continue;
            }
            if b >= 0x80 {
                let set = g1.or(self.fallback_g1);
                if set == Some(G1::Katakana) && is_sjis_lead(b) {
                    // Lenient: Shift_JIS double-byte characters under ISO_IR 13.
                    if let Some(&t) = raw.get(i + 1).filter(|t| is_sjis_trail(**t)) {
                        push_decoded(&mut out, encoding_rs::SHIFT_JIS, &[b, t]);
                        i += 2;
                        continue;
                    }
                }
                let run_len = raw[i..].iter().take_while(|&&c| c >= 0x80).count();
                let run = &raw[i..i + run_len];
                if set == Some(G1::Katakana) {
                    // Decode up to the first Shift_JIS lead byte only, so the
                    // lenient path above gets a chance at it.
                    let stop = run
                        .iter()
                        .skip(1)
                        .position(|&c| is_sjis_lead(c))
                        .map_or(run.len(), |p| p + 1);
                    decode_gr_run(&mut out, set, &run[..stop]);
                    i += stop;
                } else {
                    decode_gr_run(&mut out, set, run);
                    i += run_len;
                }
                continue;
            }
            // GL: 0x20..=0x7F through G0.
            match g0 {
                G0::Jis0208 | G0::Jis0212 => {
                    let pair_ok = |c: &u8| (0x21..=0x7E).contains(c);
                    let start = i;
                    while raw.get(i).is_some_and(pair_ok) && raw.get(i + 1).is_some_and(pair_ok) {
                        i += 2;
                    }
                    if i == start {
                        // Space, DEL, or a lone byte that cannot start a pair.
                        out.push(if b == 0x20 || b == 0x7F {
                            char::from(b)
                        } else {
                            '\u{FFFD}'
                        });
                        i += 1;
                        continue;
                    }
                    let mut euc = Vec::with_capacity((i - start) * 3 / 2);
                    for pair in raw[start..i].chunks_exact(2) {
                        if g0 == G0::Jis0212 {
                            euc.push(0x8F);
                        }
                        euc.extend(pair.iter().map(|c| c | 0x80));
                    }
                    push_decoded(&mut out, encoding_rs::EUC_JP, &euc);
                }
                G0::Katakana => {
                    out.push(if (0x21..=0x5F).contains(&b) {
                        katakana_char(b - 0x21)
                    } else if b == 0x20 || b == 0x7F {
                        char::from(b)
                    } else {
                        '\u{FFFD}'
                    });
                    i += 1;
                }
                G0::Ascii | G0::Romaji => {
                    if is_pn && (b == b'^' || b == b'=') {
                        g0 = self.initial_g0;
                        g1 = self.initial_g1;
                    }
                    out.push(match (g0, b) {
                        (G0::Romaji, 0x5C) => '\u{A5}',
                        (G0::Romaji, 0x7E) => '\u{203E}',
                        _ => char::from(b),
                    });
                    i += 1;
                }
            }
        }
        out
    }

    /// Repair one value string that dicom-rs decoded with the first charset value only: re-encode it to the original bytes with the same codec dicom-rs used (reversible for the default/Latin-1 case), then `decode` them properly. If needs_fixing() is false, return the input unchanged.
    pub fn repair(&self, decoded_by_dicom_rs: &str, is_pn: bool) -> String {
        if !self.needs_fixing {
            return decoded_by_dicom_rs.to_owned();
        }
        // dicom-rs keeps its current (initially default) codec for a value 1
        // it does not know.
        let codec = SpecificCharacterSet::from_code(&self.first_raw);
        if self.whole.is_some() && codec.is_some() {
            // Same codec as ours, no code extensions: nothing to repair.
            return decoded_by_dicom_rs.to_owned();
        }
        let codec = codec.unwrap_or_default();
        match reencode(&codec, decoded_by_dicom_rs) {
            Some(bytes) => self.decode(&bytes, is_pn),
            None => decoded_by_dicom_rs.to_owned(),
        }
    }
}

/// Recovers the original bytes of a string that `codec` decoded.
///
/// dicom-rs's decoder writes each undecodable byte as a backslash and three
/// octal digits; those are turned back into the byte (except for the Latin-1
/// codecs, which decode every byte and so never produce them, leaving any
/// backslash literal). Returns `None` when some character cannot be encoded.
fn reencode(codec: &SpecificCharacterSet, text: &str) -> Option<Vec<u8>> {
    let name = codec.name();
    if name == "ISO_IR 6" || name == "ISO_IR 100" {
        return text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect();
    }
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut segment_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let trapped = match bytes.get(i..i + 4) {
            Some([b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7']) => {
                Some(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'))
            }
            _ => None,
        };
        if let Some(byte) = trapped {
            // `i` is at an ASCII backslash, hence on a char boundary.
            let segment = text.get(segment_start..i)?;
            if !segment.is_empty() {
                out.extend(codec.encode(segment).ok()?);
            }
            out.push(byte);
            i += 4;
            segment_start = i;
        } else {
            i += 1;
        }
    }
    let segment = text.get(segment_start..)?;
    if !segment.is_empty() {
        out.extend(codec.encode(segment).ok()?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(values: &[&str]) -> CharsetContext {
        let values: Vec<String> = values.iter().map(|s| (*s).to_owned()).collect();
        CharsetContext::new(&values)
    }

    /// What dicom-rs 0.10 produces for one value: decode with value 1's codec
    /// (or the default codec if it does not know value 1).
    fn dicom_rs_decode(values: &[&str], raw: &[u8]) -> String {
        let codec = values
            .first()
            .and_then(|v| SpecificCharacterSet::from_code(v))
            .unwrap_or_default();
        codec.decode(raw).expect("dicom-rs decode")
    }

    /// Checks `decode` on the raw bytes and `repair` on what dicom-rs made of them.
    fn check(values: &[&str], raw: &[u8], is_pn: bool, expected: &str) {
        let c = ctx(values);
        assert_eq!(c.decode(raw, is_pn), expected, "decode under {values:?}");
        let by_dicom_rs = dicom_rs_decode(values, raw);
        if c.needs_fixing() {
            assert_eq!(
                c.repair(&by_dicom_rs, is_pn),
                expected,
                "repair under {values:?} of {by_dicom_rs:?}"
            );
        } else {
            assert_eq!(c.repair(&by_dicom_rs, is_pn), by_dicom_rs);
        }
    }

    // PS3.5 Annex H.3.1: Japanese, `\ISO 2022 IR 87`.
    const JA_IR87: &[u8] = &[
        0x59, 0x61, 0x6D, 0x61, 0x64, 0x61, 0x5E, 0x54, 0x61, 0x72, 0x6F, 0x75,
        0x3D, // Yamada^Tarou=
        0x1B, 0x24, 0x42, 0x3B, 0x33, 0x45, 0x44, // ESC $ B 山田
        0x1B, 0x28, 0x42, 0x5E, // ESC ( B ^
        0x1B, 0x24, 0x42, 0x42, 0x40, 0x4F, 0x3A, // ESC $ B 太郎
        0x1B, 0x28, 0x42, 0x3D, // ESC ( B =
        0x1B, 0x24, 0x42, 0x24, 0x64, 0x24, 0x5E, 0x24, 0x40, // ESC $ B やまだ
        0x1B, 0x28, 0x42, 0x5E, // ESC ( B ^
        0x1B, 0x24, 0x42, 0x24, 0x3F, 0x24, 0x6D, 0x24, 0x26, // ESC $ B たろう
        0x1B, 0x28, 0x42, // ESC ( B
    ];

    // PS3.5 Annex H.3.2: Japanese, `ISO 2022 IR 13\ISO 2022 IR 87`.
    const JA_IR13_IR87: &[u8] = &[
        0xD4, 0xCF, 0xC0, 0xDE, 0x5E, 0xC0, 0xDB, 0xB3, 0x3D, // ﾔﾏﾀﾞ^ﾀﾛｳ=
        0x1B, 0x24, 0x42, 0x3B, 0x33, 0x45, 0x44, // ESC $ B 山田
        0x1B, 0x28, 0x4A, 0x5E, // ESC ( J ^
        0x1B, 0x24, 0x42, 0x42, 0x40, 0x4F, 0x3A, // ESC $ B 太郎
        0x1B, 0x28, 0x4A, 0x3D, // ESC ( J =
        0x1B, 0x24, 0x42, 0x24, 0x64, 0x24, 0x5E, 0x24, 0x40, // ESC $ B やまだ
        0x1B, 0x28, 0x4A, 0x5E, // ESC ( J ^
        0x1B, 0x24, 0x42, 0x24, 0x3F, 0x24, 0x6D, 0x24, 0x26, // ESC $ B たろう
    ];

    // PS3.5 Annex I: Korean, `\ISO 2022 IR 149`.
    const KO_IR149: &[u8] = &[
        0x48, 0x6F, 0x6E, 0x67, 0x5E, 0x47, 0x69, 0x6C, 0x64, 0x6F, 0x6E, 0x67,
        0x3D, // Hong^Gildong=
        0x1B, 0x24, 0x29, 0x43, 0xFB, 0xF3, 0x5E, // ESC $ ) C 洪 ^
        0x1B, 0x24, 0x29, 0x43, 0xD1, 0xCE, 0xD4, 0xD7, 0x3D, // ESC $ ) C 吉洞 =
        0x1B, 0x24, 0x29, 0x43, 0xC8, 0xAB, 0x5E, // ESC $ ) C 홍 ^
        0x1B, 0x24, 0x29, 0x43, 0xB1, 0xE6, 0xB5, 0xBF, // ESC $ ) C 길동
    ];

    // PS3.5 Annex K: Chinese, `\ISO 2022 IR 58`.
    const ZH_IR58: &[u8] = &[
        0x5A, 0x68, 0x61, 0x6E, 0x67, 0x5E, 0x58, 0x69, 0x61, 0x6F, 0x44, 0x6F, 0x6E, 0x67,
        0x3D, // Zhang^XiaoDong=
        0x1B, 0x24, 0x29, 0x41, 0xD5, 0xC5, 0x5E, // ESC $ ) A 张 ^
        0x1B, 0x24, 0x29, 0x41, 0xD0, 0xA1, 0xB6, 0xAB, 0x3D, // ESC $ ) A 小东 =
    ];

    // PS3.5 Annex J: Chinese, `GB18030`.
    const ZH_GB18030: &[u8] = &[
        0x57, 0x61, 0x6E, 0x67, 0x5E, 0x58, 0x69, 0x61, 0x6F, 0x44, 0x6F, 0x6E, 0x67,
        0x3D, // Wang^XiaoDong=
        0xCD, 0xF5, 0x5E, 0xD0, 0xA1, 0xB6, 0xAB, 0x3D, // 王^小东=
    ];

    // Thai "สมชาย^ใจดี" in TIS 620 (code point - 0x0E01 + 0xA1).
    const TH_PLAIN: &[u8] = &[0xCA, 0xC1, 0xAA, 0xD2, 0xC2, 0x5E, 0xE3, 0xA8, 0xB4, 0xD5];
    const TH_ESCAPED: &[u8] = &[
        0x1B, 0x2D, 0x54, 0xCA, 0xC1, 0xAA, 0xD2, 0xC2, 0x5E, // ESC - T สมชาย ^
        0x1B, 0x2D, 0x54, 0xE3, 0xA8, 0xB4, 0xD5, // ESC - T ใจดี
    ];
    const TH_NAME: &str = "สมชาย^ใจดี";

    #[test]
    fn annex_h_japanese_ir87() {
        check(
            &["", "ISO 2022 IR 87"],
            JA_IR87,
            true,
            "Yamada^Tarou=山田^太郎=やまだ^たろう",
        );
    }

    #[test]
    fn annex_h_japanese_ir13_ir87() {
        check(
            &["ISO 2022 IR 13", "ISO 2022 IR 87"],
            JA_IR13_IR87,
            true,
            "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう",
        );
    }

    #[test]
    fn japanese_ir87_as_first_value() {
        // dicom-rs decodes with its ISO-2022-JP codec; repair must keep the result.
        check(
            &["ISO 2022 IR 87"],
            JA_IR87,
            true,
            "Yamada^Tarou=山田^太郎=やまだ^たろう",
        );
    }

    #[test]
    fn japanese_ir13_single() {
        // ISO_IR 13 alone: katakana in G1, dicom-rs is trusted.
        let raw = [0xD4, 0xCF, 0xC0, 0xDE, 0x5E, 0xC0, 0xDB, 0xB3];
        check(&["ISO_IR 13"], &raw, true, "ﾔﾏﾀﾞ^ﾀﾛｳ");
        assert!(!ctx(&["ISO_IR 13"]).needs_fixing());
        // Lenient Shift_JIS kanji (山田 = 0x8E 0x52 0x93 0x63) under ISO_IR 13.
        assert_eq!(
            ctx(&["ISO_IR 13"]).decode(&[0x8E, 0x52, 0x93, 0x63, 0xD4], true),
            "山田ﾔ"
        );
    }

    #[test]
    fn japanese_jis_x_0212() {
        // 丂 (U+4E02) is JIS X 0212 0x30 0x21.
        let raw = [
            0x41, 0x1B, 0x24, 0x28, 0x44, 0x30, 0x21, 0x1B, 0x28, 0x42, 0x42,
        ];
        check(&["", "ISO 2022 IR 159"], &raw, false, "A丂B");
    }

    #[test]
    fn annex_i_korean() {
        check(
            &["", "ISO 2022 IR 149"],
            KO_IR149,
            true,
            "Hong^Gildong=洪^吉洞=홍^길동",
        );
    }

    #[test]
    fn korean_without_repeated_escapes() {
        // Common writer bug: G1 designated once or never. The fallback G1
        // (first G1 set among the other values) decodes the high bytes.
        let raw = [
            0x48, 0x5E, 0xFB, 0xF3, 0x5E, 0xD1, 0xCE, 0xD4, 0xD7, // H^洪^吉洞
        ];
        check(&["", "ISO 2022 IR 149"], &raw, true, "H^洪^吉洞");
        // Value 1 itself Korean: G1 is KS X 1001 from the start.
        check(&["ISO 2022 IR 149"], &raw, true, "H^洪^吉洞");
    }

    #[test]
    fn korean_multiline_text_resets_at_crlf() {
        // LT value: two lines, G1 re-designated after CR LF.
        let raw = [
            0x41, 0x1B, 0x24, 0x29, 0x43, 0xC7, 0xD1, 0xB1, 0xDB, 0x0D,
            0x0A, // A 한글 CR LF
            0x1B, 0x24, 0x29, 0x43, 0xC7, 0xD1, 0x20, 0x42, // ESC $ ) C 한 SPACE B
        ];
        check(&["", "ISO 2022 IR 149"], &raw, false, "A한글\r\n한 B");
    }

    #[test]
    fn annex_j_chinese_gb18030() {
        check(&["GB18030"], ZH_GB18030, true, "Wang^XiaoDong=王^小东=");
        // Four-byte GB18030 sequences: U+0080 = 81 30 81 30, U+20000 = 95 32 82 36.
        check(
            &["GB18030"],
            &[0x81, 0x30, 0x81, 0x30, 0x95, 0x32, 0x82, 0x36],
            false,
            "\u{80}\u{20000}",
        );
        check(&["GBK"], ZH_GB18030, true, "Wang^XiaoDong=王^小东=");
        assert!(!ctx(&["GB18030"]).needs_fixing());
    }

    #[test]
    fn annex_k_chinese_ir58() {
        check(
            &["", "ISO 2022 IR 58"],
            ZH_IR58,
            true,
            "Zhang^XiaoDong=张^小东=",
        );
        // As value 1 (dicom-rs decodes it with GBK).
        check(
            &["ISO 2022 IR 58"],
            ZH_IR58,
            true,
            "Zhang^XiaoDong=张^小东=",
        );
    }

    #[test]
    fn thai_single_value() {
        check(&["ISO_IR 166"], TH_PLAIN, true, TH_NAME);
        assert!(!ctx(&["ISO_IR 166"]).needs_fixing());
    }

    #[test]
    fn thai_code_extension_empty_first() {
        check(&["", "ISO 2022 IR 166"], TH_ESCAPED, true, TH_NAME);
        // Escape only once: the fallback G1 still gives Thai after '^'.
        let once = [
            0x1B, 0x2D, 0x54, 0xCA, 0xC1, 0xAA, 0xD2, 0xC2, 0x5E, 0xE3, 0xA8, 0xB4, 0xD5,
        ];
        check(&["", "ISO 2022 IR 166"], &once, true, TH_NAME);
        // No escape at all.
        check(&["", "ISO 2022 IR 166"], TH_PLAIN, true, TH_NAME);
    }

    #[test]
    fn thai_code_extension_ir6_first() {
        check(
            &["ISO 2022 IR 6", "ISO 2022 IR 166"],
            TH_ESCAPED,
            true,
            TH_NAME,
        );
        let mut mixed = b"Somchai^Jaidee=".to_vec();
        mixed.extend_from_slice(TH_ESCAPED);
        check(
            &["ISO 2022 IR 6", "ISO 2022 IR 166"],
            &mixed,
            true,
            "Somchai^Jaidee=สมชาย^ใจดี",
        );
    }

    #[test]
    fn thai_iso2022_single_value_with_escapes() {
        // dicom-rs decodes with windows-874 and keeps ESC - T as text.
        let c = ctx(&["ISO 2022 IR 166"]);
        assert!(c.needs_fixing());
        check(&["ISO 2022 IR 166"], TH_ESCAPED, true, TH_NAME);
        check(&["ISO 2022 IR 166"], TH_PLAIN, true, TH_NAME);
    }

    #[test]
    fn latin_and_other_single_byte_sets() {
        check(
            &["ISO_IR 100"],
            &[0x42, 0x75, 0x63, 0x5E, 0x4A, 0xE9, 0x72, 0xF4, 0x6D, 0x65],
            true,
            "Buc^Jérôme",
        );
        check(&["ISO_IR 101"], &[0xA3, 0xF3, 0x64, 0xBC], false, "Łódź");
        check(
            &["ISO_IR 144"],
            &[
                0xB8, 0xD2, 0xD0, 0xDD, 0xDA, 0xDE, 0xD2, 0x5E, 0xB0, 0xDD, 0xD4, 0xE0, 0xD5, 0xD9,
            ],
            true,
            "Иванков^Андрей",
        );
        check(
            &["ISO_IR 126"],
            &[0xC4, 0xE9, 0xEF, 0xED, 0xF5, 0xF3, 0xE9, 0xEF, 0xF2],
            true,
            "Διονυσιος",
        );
        check(
            &["ISO_IR 138"],
            &[0xF9, 0xF8, 0xE5, 0xEF, 0x5E, 0xE3, 0xE1, 0xE5, 0xF8, 0xE4],
            true,
            "שרון^דבורה",
        );
        check(
            &["ISO_IR 127"],
            &[
                0xE2, 0xC8, 0xC7, 0xE6, 0xEA, 0x5E, 0xE4, 0xE6, 0xD2, 0xC7, 0xD1,
            ],
            true,
            "قباني^لنزار",
        );
        // ISO_IR 148 is unknown to dicom-rs (it falls back to Latin-1).
        assert!(ctx(&["ISO_IR 148"]).needs_fixing());
        check(&["ISO_IR 148"], &[0xFE, 0xF0, 0xDD], false, "şğİ");
        check(&["ISO_IR 203"], &[0xA4], false, "€");
    }

    #[test]
    fn latin_cyrillic_code_extensions() {
        // Jérôme^ESC - L Иван
        let raw = [
            0x4A, 0xE9, 0x72, 0xF4, 0x6D, 0x65, 0x5E, 0x1B, 0x2D, 0x4C, 0xB8, 0xD2, 0xD0, 0xDD,
        ];
        check(
            &["ISO 2022 IR 100", "ISO 2022 IR 144"],
            &raw,
            true,
            "Jérôme^Иван",
        );
        // PN: back to Latin-1 after '^' even though Cyrillic was designated.
        let raw = [0x1B, 0x2D, 0x4C, 0xB8, 0x5E, 0xE9];
        check(&["ISO 2022 IR 100", "ISO 2022 IR 144"], &raw, true, "И^é");
        // Not a PN: the designation survives '^'.
        check(&["ISO 2022 IR 100", "ISO 2022 IR 144"], &raw, false, "И^щ");
    }

    #[test]
    fn repair_undoes_dicom_rs_trap_escapes() {
        // Value 1 Greek: 0xD2 is undefined in ISO 8859-7, so dicom-rs writes
        // "\322"; after ESC - A it is Latin-1 'Ò'.
        let values = ["ISO 2022 IR 126", "ISO 2022 IR 100"];
        let raw = [0xC4, 0x1B, 0x2D, 0x41, 0xD2];
        let by_dicom_rs = dicom_rs_decode(&values, &raw);
        assert!(by_dicom_rs.contains("\\322"), "{by_dicom_rs:?}");
        check(&values, &raw, true, "ΔÒ");
    }

    #[test]
    fn repair_keeps_literal_backslashes_for_latin1() {
        let c = ctx(&["", "ISO 2022 IR 100"]);
        assert_eq!(c.repair("a\\101b", false), "a\\101b");
    }

    #[test]
    fn utf8() {
        check(
            &["ISO_IR 192"],
            "Simões^João".as_bytes(),
            true,
            "Simões^João",
        );
        assert!(!ctx(&["ISO_IR 192"]).needs_fixing());
        // Invalid UTF-8 becomes U+FFFD, never a panic.
        assert_eq!(
            ctx(&["ISO_IR 192"]).decode(&[0x41, 0xFF], false),
            "A\u{FFFD}"
        );
    }

    #[test]
    fn default_and_unknown() {
        let empty = CharsetContext::new(&[]);
        assert_eq!(empty, CharsetContext::default());
        assert!(!empty.needs_fixing());
        assert_eq!(empty.decode(b"Smith^John", true), "Smith^John");
        assert_eq!(empty.decode(&[0xE9], true), "é");
        assert_eq!(empty.repair("Ã©", true), "Ã©");
        assert!(!ctx(&[""]).needs_fixing());
        assert!(!ctx(&["ISO_IR 100"]).needs_fixing());
        assert!(ctx(&["", "ISO 2022 IR 87"]).needs_fixing());
        assert!(ctx(&["ISO 2022 IR 6"]).needs_fixing());

        let unknown = ctx(&["WHATEVER 42"]);
        assert!(unknown.needs_fixing());
        assert_eq!(unknown.decode(&[0x41, 0xE9, 0xFF], false), "Aéÿ");
        assert_eq!(unknown.repair("Aé", false), "Aé");

        // Unknown well-formed escape sequences are dropped, stray ESC kept.
        let c = ctx(&["", "ISO 2022 IR 100"]);
        assert_eq!(c.decode(&[0x41, 0x1B, 0x25, 0x47, 0x42], false), "AB");
        assert_eq!(c.decode(&[0x41, 0x1B], false), "A\u{1B}");
        assert_eq!(c.decode(&[0x1B, 0x24, 0x01], false), "\u{1B}$\u{1}");
        // Odd trailing byte in JIS X 0208 mode.
        assert_eq!(
            c.decode(&[0x1B, 0x24, 0x42, 0x3B, 0x33, 0x45], false),
            "山\u{FFFD}"
        );
    }

    #[test]
    fn fuzzed_bytes_never_panic() {
        let contexts = [
            ctx(&[]),
            ctx(&[""]),
            ctx(&["", "ISO 2022 IR 87"]),
            ctx(&["ISO 2022 IR 13", "ISO 2022 IR 87", "ISO 2022 IR 159"]),
            ctx(&["", "ISO 2022 IR 149"]),
            ctx(&["", "ISO 2022 IR 58"]),
            ctx(&["ISO 2022 IR 6", "ISO 2022 IR 166"]),
            ctx(&["ISO 2022 IR 100", "ISO 2022 IR 144", "ISO 2022 IR 126"]),
            ctx(&["ISO 2022 IR 87"]),
            ctx(&["ISO 2022 IR 149"]),
            ctx(&["ISO 2022 IR 126", "ISO 2022 IR 100"]),
            ctx(&["ISO_IR 13"]),
            ctx(&["ISO_IR 166"]),
            ctx(&["ISO_IR 192"]),
            ctx(&["GB18030", "ISO 2022 IR 58"]),
            ctx(&["BOGUS"]),
        ];
        let interesting: &[u8] = b"\x1b\x1b$()-BACDIJLT^=\\\r\n\t\x21\x7e\x80\xa1\xdf\xfe\xff0123";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u32
        };
        for round in 0..3000 {
            let len = (next() % 40) as usize;
            let raw: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 3 == 0 {
                        interesting[(r as usize / 3) % interesting.len()]
                    } else {
                        (r >> 8) as u8
                    }
                })
                .collect();
            let c = &contexts[round % contexts.len()];
            let _ = c.decode(&raw, true);
            let _ = c.decode(&raw, false);
            // Whatever dicom-rs might have produced for these bytes.
            for codec in [
                "",
                "ISO 2022 IR 87",
                "ISO 2022 IR 149",
                "ISO 2022 IR 126",
                "ISO 2022 IR 13",
            ] {
                let codec = SpecificCharacterSet::from_code(codec).unwrap_or_default();
                if let Ok(s) = codec.decode(&raw) {
                    let _ = c.repair(&s, true);
                }
            }
            // Arbitrary strings, including trap-like "\ooo" and non-Latin text.
            let s: String = raw
                .iter()
                .map(|&b| match b % 7 {
                    0 => '\\',
                    1 => char::from(b'0' + b % 8),
                    2 => '山',
                    _ => char::from(b),
                })
                .collect();
            let _ = c.repair(&s, false);
        }
    }
}
