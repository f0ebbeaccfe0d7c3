//! A report in a URL fragment: `view=factors&theme=auto&r=<data>`, where the
//! data is the report's JSON compressed with raw deflate (RFC 1951) and
//! written in unpadded base64url (RFC 4648 §5).
//!
//! The fragment never reaches a server, so an `embed.html#…` link works from
//! any static host. Decoding is defensive: damaged data gives a
//! [`FragmentError`] that says so, and decompression stops at
//! [`MAX_INFLATED_BYTES`] (a few bytes of deflate can expand enormously).

use std::io::{Read, Write};

use super::{EmbedOptions, Theme, WidgetView};

/// The largest report a fragment may expand to, in bytes.
pub const MAX_INFLATED_BYTES: usize = 8 << 20;

/// Why a fragment cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FragmentError {
    /// There is no `r=` parameter.
    NoReport,
    /// The data is not base64url.
    NotBase64 { position: usize },
    /// The data does not inflate.
    Damaged(String),
    /// The report expands beyond [`MAX_INFLATED_BYTES`].
    TooLarge,
    /// The inflated bytes are not UTF-8 text.
    NotText,
}

impl std::fmt::Display for FragmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FragmentError::NoReport => f.write_str(
                "the address has no report in it (expected embed.html#view=…&r=…, as the PROFILE app's Embed panel makes it)",
            ),
            FragmentError::NotBase64 { position } => write!(
                f,
                "the report data in the address is damaged (an unexpected character at position {position}); copy the whole link again"
            ),
            FragmentError::Damaged(e) => write!(
                f,
                "the report data in the address is damaged ({e}); copy the whole link again"
            ),
            FragmentError::TooLarge => write!(
                f,
                "the report in the address expands to more than {} MB",
                MAX_INFLATED_BYTES >> 20
            ),
            FragmentError::NotText => f.write_str("the report data in the address is not text"),
        }
    }
}

impl std::error::Error for FragmentError {}

/// The fragment (without `#`) for a report text and options.
pub fn encode_fragment(report_json: &str, opts: &EmbedOptions) -> String {
    let mut s = options_query(opts);
    if !s.is_empty() {
        s.push('&');
    }
    s.push_str("r=");
    s.push_str(&base64url_encode(&deflate(report_json.as_bytes())));
    s
}

/// The options part of a fragment or query: `view=…&theme=…[&agent=…]`.
pub fn options_query(opts: &EmbedOptions) -> String {
    let mut s = format!("view={}&theme={}", opts.view.id(), opts.theme.id());
    if let Some(a) = &opts.agent {
        s.push_str("&agent=");
        s.push_str(&percent_encode(a));
    }
    s
}

/// Reads a fragment (with or without `#`): the options (unknown values fall
/// back to the defaults) and the report text, not yet checked.
///
/// # Errors
/// [`FragmentError`] when there is no report or its data is damaged.
pub fn decode_fragment(fragment: &str) -> Result<(EmbedOptions, String), FragmentError> {
    let mut opts = EmbedOptions::default();
    let mut data = None;
    for part in fragment.trim_start_matches('#').split('&') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k {
            "view" => opts.view = WidgetView::from_id(v).unwrap_or_default(),
            "theme" => opts.theme = Theme::from_id(v).unwrap_or_default(),
            "agent" => opts.agent = Some(percent_decode(v)).filter(|a| !a.is_empty()),
            "r" => data = Some(v),
            _ => {}
        }
    }
    let data = data
        .filter(|d| !d.is_empty())
        .ok_or(FragmentError::NoReport)?;
    let bytes = base64url_decode(data)?;
    let text = inflate(&bytes)?;
    Ok((opts, text))
}

/// Raw deflate at the best compression.
pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Inflates raw deflate data into text, at most [`MAX_INFLATED_BYTES`].
///
/// # Errors
/// [`FragmentError::Damaged`], [`FragmentError::TooLarge`] or [`FragmentError::NotText`].
pub fn inflate(bytes: &[u8]) -> Result<String, FragmentError> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .take(MAX_INFLATED_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| FragmentError::Damaged(e.to_string()))?;
    if out.len() > MAX_INFLATED_BYTES {
        return Err(FragmentError::TooLarge);
    }
    String::from_utf8(out).map_err(|_| FragmentError::NotText)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url.
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            s.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    s
}

/// Decodes base64url, with or without padding; also accepts the standard
/// alphabet's `+` and `/`.
///
/// # Errors
/// [`FragmentError::NotBase64`] at the first character that does not belong.
pub fn base64url_decode(s: &str) -> Result<Vec<u8>, FragmentError> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (position, c) in s.bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return Err(FragmentError::NotBase64 { position }),
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if s.len() % 4 == 1 {
        return Err(FragmentError::NotBase64 {
            position: s.len() - 1,
        });
    }
    Ok(out)
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes percent-escapes (and `+` as a space); malformed escapes stay as
/// they are, and invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' => match (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for n in 0..70u8 {
            let bytes: Vec<u8> = (0..n)
                .map(|i| i.wrapping_mul(37).wrapping_add(250))
                .collect();
            let s = base64url_encode(&bytes);
            assert!(s
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
            assert_eq!(base64url_decode(&s).unwrap(), bytes, "{n}");
        }
        assert_eq!(base64url_encode(b"hello?>"), "aGVsbG8_Pg");
        assert_eq!(base64url_decode("aGVsbG8/Pg==").unwrap(), b"hello?>");
        assert_eq!(
            base64url_decode("aGV*"),
            Err(FragmentError::NotBase64 { position: 3 })
        );
        assert_eq!(
            base64url_decode("aGVsb"),
            Err(FragmentError::NotBase64 { position: 4 })
        );
    }

    #[test]
    fn percent_encoding_round_trips() {
        for s in [
            "",
            "human",
            "gpt-4o (judge) & co",
            "a=b&c#d",
            "<script>",
            "東京 %zz",
        ] {
            assert_eq!(percent_decode(&percent_encode(s)), s);
        }
        assert_eq!(percent_encode("a b&"), "a%20b%26");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz+%41"), "%zz A");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn a_report_round_trips_through_a_fragment() {
        let json =
            r#"{"schema":"profile-report/1","x":"<script>alert(1)</script> 東京"}"#.repeat(50);
        let opts = EmbedOptions {
            view: WidgetView::Rankings,
            theme: Theme::Dark,
            agent: Some("gpt-4o & friends".into()),
        };
        let f = encode_fragment(&json, &opts);
        assert!(f.starts_with("view=rankings&theme=dark&agent=gpt-4o%20%26%20friends&r="));
        assert!(
            f.len() < json.len() / 4,
            "compressed: {} of {}",
            f.len(),
            json.len()
        );
        let (o, text) = decode_fragment(&format!("#{f}")).unwrap();
        assert_eq!((o, text), (opts, json));
    }

    #[test]
    fn damaged_fragments_say_so() {
        let f = encode_fragment("{\"a\": 1}", &EmbedOptions::default());
        assert_eq!(
            decode_fragment("view=factors"),
            Err(FragmentError::NoReport)
        );
        assert_eq!(decode_fragment("r="), Err(FragmentError::NoReport));
        assert!(matches!(
            decode_fragment("r=!!"),
            Err(FragmentError::NotBase64 { position: 0 })
        ));
        // Truncated data, and data that is not deflate.
        let cut = &f[..f.len() - 3];
        assert!(decode_fragment(cut).is_err());
        assert!(matches!(
            decode_fragment("r=_____________w"),
            Err(FragmentError::Damaged(_))
        ));
        let not_text = base64url_encode(&deflate(&[0xff, 0xfe, 0x00]));
        assert_eq!(
            decode_fragment(&format!("r={not_text}")),
            Err(FragmentError::NotText)
        );
        // Unknown options fall back to the defaults.
        let (o, _) = decode_fragment(&format!("view=pie&theme=neon&zzz&{f}")).unwrap();
        assert_eq!(o, EmbedOptions::default());
        for e in [
            FragmentError::NoReport,
            FragmentError::TooLarge,
            FragmentError::NotText,
            FragmentError::NotBase64 { position: 3 },
        ] {
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn a_deflate_bomb_stops_at_the_limit() {
        let bomb = deflate(&vec![b' '; MAX_INFLATED_BYTES + 10]);
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        assert_eq!(inflate(&bomb), Err(FragmentError::TooLarge));
    }
}
