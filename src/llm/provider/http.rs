//! HTTP plumbing shared by every wire format: the [`HttpRequest`] value a
//! transport sends, secrets kept out of its `Debug` and [`Redacted`] view
//! ([`redact_url`], secret header names), model ids made safe for a URL path,
//! and the server's `Retry-After` hint (delay-seconds or an IMF-fixdate
//! HTTP-date, [`retry_after_seconds`], [`parse_http_date`]).
//!
//! Pure: no clock (a date needs the response's own `Date` header), no I/O.

use std::fmt;

/// Header names whose values are secrets; they are shown as `[redacted]`.
const SECRET_HEADERS: [&str; 4] = ["authorization", "x-api-key", "x-goog-api-key", "api-key"];

/// One HTTP request, ready for a transport. The body is JSON text.
///
/// `Debug` and [`redacted`](Self::redacted) hide the values of secret headers
/// (`authorization`, `x-api-key`, `x-goog-api-key`, `api-key`) and of a
/// `key=` query parameter: log those, never the raw fields.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    /// Header names in lower case, in the order they should be sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpRequest {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// A view that displays the request with secrets replaced by
    /// `[redacted]`: method and URL, one `name: value` line per header, a
    /// blank line, the body.
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(self)
    }

    /// The headers with secret values replaced by `[redacted]`.
    pub fn redacted_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                let v = if is_secret_header(k) {
                    "[redacted]".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("headers", &self.redacted_headers())
            .field("body", &self.body)
            .finish()
    }
}

/// Display adapter returned by [`HttpRequest::redacted`].
pub struct Redacted<'a>(&'a HttpRequest);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        writeln!(f, "{} {}", r.method, redact_url(&r.url))?;
        for (k, v) in r.redacted_headers() {
            writeln!(f, "{k}: {v}")?;
        }
        writeln!(f)?;
        f.write_str(&r.body)
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

/// `scheme://user:password@host…` → `scheme://user:[redacted]@host…`.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{scheme}://{user}:[redacted]@{host}{tail}")
        }
        None => url.to_string(),
    }
}

fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Replaces the value of a `key=` query parameter (Gemini's legacy way of
/// passing the key) and the password of `user:password@` credentials with
/// `[redacted]`.
pub fn redact_url(url: &str) -> String {
    let url = redact_userinfo(url);
    let Some((path, query)) = url.split_once('?') else {
        return url;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("key") => format!("{k}=[redacted]"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// Percent-encodes everything outside RFC 3986's unreserved characters, so a
/// model id cannot change the URL's path or query.
pub(super) fn percent_encode(s: &str) -> String {
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

/// The server's suggested wait from a reply's headers: `retry-after-ms`,
/// else `Retry-After` (an HTTP-date is measured against the reply's `Date`).
pub(super) fn retry_after_from_headers(headers: &[(String, String)]) -> Option<f64> {
    if let Some(ms) = header_value(headers, "retry-after-ms").and_then(parse_seconds) {
        return Some(ms / 1000.0);
    }
    let value = header_value(headers, "retry-after")?;
    let now = header_value(headers, "date").and_then(parse_http_date);
    retry_after_seconds(value, now)
}

/// A `Retry-After` value in seconds: either delay-seconds (`"120"`; a
/// fraction such as `"1.5"` is accepted too) or an HTTP-date
/// (IMF-fixdate, `"Wed, 21 Oct 2015 07:28:00 GMT"`), which needs the current
/// time `now_unix_s` (seconds since 1970) to become a delay; without it a
/// date gives `None`. Dates in the past give 0.
pub fn retry_after_seconds(value: &str, now_unix_s: Option<i64>) -> Option<f64> {
    let value = value.trim();
    if let Some(s) = parse_seconds(value) {
        return Some(s);
    }
    let at = parse_http_date(value)?;
    let now = now_unix_s?;
    Some((at - now).max(0) as f64)
}

pub(super) fn parse_seconds(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110) into
/// seconds since 1970-01-01 UTC. The obsolete RFC 850 and asctime forms are
/// not accepted.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_weekday, day, month, year, time, zone] = parts.as_slice() else {
        return None;
    };
    if *zone != "GMT" && *zone != "UTC" {
        return None;
    }
    let day: i64 = day.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as i64 + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, sec] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *mi > 59 || *sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(super) fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480)
        );
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400)
        );
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), None);
        assert_eq!(parse_http_date(""), None);
    }

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_url("http://user:hunter2@127.0.0.1:8080/v1?key=abc&x=1"),
            "http://user:[redacted]@127.0.0.1:8080/v1?key=[redacted]&x=1"
        );
        assert_eq!(
            redact_url("https://tok@host/v1"),
            "https://tok:[redacted]@host/v1"
        );
        assert_eq!(redact_url("https://host/a@b"), "https://host/a@b");
        assert_eq!(redact_url("no url"), "no url");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after_seconds("120", None), Some(120.0));
        assert_eq!(retry_after_seconds(" 1.5 ", None), Some(1.5));
        assert_eq!(retry_after_seconds("-3", None), None);
        assert_eq!(retry_after_seconds("soon", None), None);
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(retry_after_seconds(date, None), None);
        assert_eq!(retry_after_seconds(date, Some(1_445_412_450)), Some(30.0));
        assert_eq!(retry_after_seconds(date, Some(1_445_412_490)), Some(0.0));
    }

    #[test]
    fn urls() {
        assert_eq!(percent_encode("gemini-2.5-flash"), "gemini-2.5-flash");
        assert_eq!(percent_encode("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(
            redact_url("https://x/y?alt=json&key=AIza123"),
            "https://x/y?alt=json&key=[redacted]"
        );
        assert_eq!(redact_url("https://x/y"), "https://x/y");
    }
}
