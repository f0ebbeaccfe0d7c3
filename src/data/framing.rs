//! Framing: turning a byte stream into records.
//!
//! Two framings exist. A file whose first non-blank byte is `[` is one JSON
//! array and each element is a record; anything else is JSON Lines and each
//! non-blank line is a record. Both work on chunks of any size, so a file never
//! has to be in memory whole; each record carries the 1-based line on which it
//! starts (and, in an array, its 1-based element index).
//!
//! A record longer than the limit (`max_record`) is never held whole: once the
//! record in progress passes the limit it is reported as [`Rec::TooLarge`] and
//! the rest of it is skipped as it streams past (to the next newline, or to the
//! `,`/`]` that ends the array element), so memory stays within the limit plus
//! one chunk whatever the input.

/// Where a record starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct At {
    /// 1-based line.
    pub(crate) line: u64,
    /// 1-based index of the element, for the elements of a JSON array.
    pub(crate) element: Option<u64>,
}

/// A framed record: its bytes, or the note that it passed the size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rec<'a> {
    Bytes(&'a [u8]),
    TooLarge,
}

/// A framer that has not yet seen enough bytes to choose, or has chosen.
#[derive(Debug, Default)]
pub(crate) struct Framer {
    /// The largest record kept, in bytes.
    max_record: usize,
    /// Inside a record over the limit, discarding up to its end.
    skipping: bool,
    mode: Mode,
    buf: Vec<u8>,
    /// Scan position inside `buf` (bytes before it have been classified).
    pos: usize,
    /// Line number (1-based) of the byte at `pos`.
    line: u64,
    array: ArrayState,
    /// Line at which the last record started (for trailing-content errors).
    pub(crate) trailing_garbage_line: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Mode {
    #[default]
    Undecided,
    Lines,
    Array,
}

#[derive(Debug, Default)]
struct ArrayState {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// (offset in buf, line) where the current element starts.
    element: Option<(usize, u64)>,
    /// Elements started so far.
    count: u64,
    closed: bool,
}

/// Whether the framer produced a JSON array or lines.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Lines,
    Array,
}

impl Framer {
    /// A framer that keeps records of up to `max_record` bytes.
    pub(crate) fn new(max_record: usize) -> Self {
        Framer {
            line: 1,
            max_record: max_record.max(1),
            ..Default::default()
        }
    }

    /// Whether the input was a JSON array that never closed.
    pub(crate) fn unclosed_array(&self) -> bool {
        self.mode == Mode::Array && !self.array.closed
    }

    #[cfg(test)]
    pub(crate) fn framing(&self) -> Option<Framing> {
        match self.mode {
            Mode::Undecided => None,
            Mode::Lines => Some(Framing::Lines),
            Mode::Array => Some(Framing::Array),
        }
    }

    /// The line the scan has reached (1-based).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Feeds bytes; calls `emit` for each complete record (and once for each
    /// record over the limit, as soon as it passes it).
    pub(crate) fn push(&mut self, bytes: &[u8], emit: &mut impl FnMut(At, Rec<'_>)) {
        if self.skipping && self.mode == Mode::Lines {
            // Discard a skipped line's bytes without buffering them.
            match memchr(b'\n', bytes) {
                None => return,
                Some(i) => {
                    self.skipping = false;
                    self.line += 1;
                    return self.push(&bytes[i + 1..], emit);
                }
            }
        }
        self.buf.extend_from_slice(bytes);
        self.scan(false, emit);
    }

    /// Ends the stream; emits a last record without a trailing newline.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(At, Rec<'_>)) {
        self.scan(true, emit);
        if self.mode == Mode::Array {
            if let Some((start, line)) = self.array.element.take() {
                // An array that never closed: hand over what we have, the parser reports it.
                let rec = trim(&self.buf[start..]);
                if !rec.is_empty() {
                    let at = At {
                        line,
                        element: Some(self.array.count),
                    };
                    emit(at, self.sized(self.buf.len() - start, rec));
                }
            }
        }
        self.buf.clear();
        self.pos = 0;
        self.skipping = false;
    }

    /// The record, or `TooLarge` when its span (from its first
    /// non-blank byte to its end) is over the limit: the same measure the
    /// check on a record still in progress uses, so chunking never matters.
    fn sized<'a>(&self, span: usize, rec: &'a [u8]) -> Rec<'a> {
        if span > self.max_record {
            Rec::TooLarge
        } else {
            Rec::Bytes(rec)
        }
    }

    fn scan(&mut self, at_end: bool, emit: &mut impl FnMut(At, Rec<'_>)) {
        if self.mode == Mode::Undecided {
            let first = self.buf[self.pos..]
                .iter()
                .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF);
            match first {
                None => {
                    // Only blanks so far: count their lines and keep none of
                    // them, so a file of blanks costs no memory either.
                    let rest = &self.buf[self.pos..];
                    let ws = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
                    self.line += rest[..ws].iter().filter(|&&b| b == b'\n').count() as u64;
                    self.buf.drain(..self.pos + ws);
                    self.pos = 0;
                    if self.buf.len() <= self.max_record {
                        return;
                    }
                    // Byte-order-mark bytes past the limit: lines, too large.
                    self.mode = Mode::Lines;
                }
                Some(i) => {
                    self.mode = if self.buf[self.pos + i] == b'[' {
                        Mode::Array
                    } else {
                        Mode::Lines
                    };
                }
            }
        }
        match self.mode {
            Mode::Lines => self.scan_lines(at_end, emit),
            Mode::Array => self.scan_array(emit),
            Mode::Undecided => unreachable!(),
        }
    }

    fn scan_lines(&mut self, at_end: bool, emit: &mut impl FnMut(At, Rec<'_>)) {
        let mut start = 0;
        while let Some(nl) = memchr(b'\n', &self.buf[self.pos..]) {
            let end = self.pos + nl;
            let raw = ltrim(&self.buf[start..end]);
            let rec = trim(strip_bom(raw));
            if !rec.is_empty() {
                let at = At {
                    line: self.line,
                    element: None,
                };
                emit(at, self.sized(raw.len(), rec));
            }
            self.line += 1;
            self.pos = end + 1;
            start = self.pos;
        }
        let at = At {
            line: self.line,
            element: None,
        };
        // Blanks before a record are no part of it: not kept.
        start = self.buf.len() - ltrim(&self.buf[start..]).len();
        if at_end && start < self.buf.len() {
            let raw = &self.buf[start..];
            let rec = trim(strip_bom(raw));
            if !rec.is_empty() {
                emit(at, self.sized(raw.len(), rec));
            }
            start = self.buf.len();
        } else if self.buf.len() - start > self.max_record {
            // The line in progress is over the limit: say so now, and drop its
            // bytes up to its newline as they arrive.
            emit(at, Rec::TooLarge);
            self.skipping = true;
            start = self.buf.len();
        }
        self.buf.drain(..start);
        self.pos = self.buf.len();
    }

    fn scan_array(&mut self, emit: &mut impl FnMut(At, Rec<'_>)) {
        let st = &mut self.array;
        let mut i = self.pos;
        while i < self.buf.len() {
            let b = self.buf[i];
            if b == b'\n' {
                self.line += 1;
            }
            if st.in_string {
                if st.escaped {
                    st.escaped = false;
                } else if b == b'\\' {
                    st.escaped = true;
                } else if b == b'"' {
                    st.in_string = false;
                }
                i += 1;
                continue;
            }
            if st.closed {
                if !b.is_ascii_whitespace() && self.trailing_garbage_line.is_none() {
                    self.trailing_garbage_line = Some(self.line);
                }
                i += 1;
                continue;
            }
            match (st.depth, b) {
                (0, b'[') => st.depth = 1,
                (0, _) => {}
                (1, b',') | (1, b']') => {
                    if self.skipping {
                        self.skipping = false;
                    } else if let Some((start, line)) = st.element.take() {
                        let rec = trim(&self.buf[start..i]);
                        if !rec.is_empty() {
                            let at = At {
                                line,
                                element: Some(st.count),
                            };
                            emit(
                                at,
                                if i - start > self.max_record {
                                    Rec::TooLarge
                                } else {
                                    Rec::Bytes(rec)
                                },
                            );
                        }
                    }
                    if b == b']' {
                        st.depth = 0;
                        st.closed = true;
                    }
                }
                (1, c) if c.is_ascii_whitespace() => {}
                (d, c) => {
                    if d == 1 && st.element.is_none() && !self.skipping {
                        st.element = Some((i, self.line));
                        st.count += 1;
                    }
                    match c {
                        b'"' => st.in_string = true,
                        b'{' | b'[' => st.depth += 1,
                        b'}' | b']' => st.depth = st.depth.saturating_sub(1).max(1),
                        _ => {}
                    }
                }
            }
            i += 1;
        }
        if let Some((start, line)) = st.element {
            if i - start > self.max_record {
                // The element in progress is over the limit: say so now, and
                // drop its bytes up to the `,` or `]` that ends it.
                let at = At {
                    line,
                    element: Some(st.count),
                };
                emit(at, Rec::TooLarge);
                st.element = None;
                self.skipping = true;
            }
        }
        // Keep only the bytes of the element in progress.
        let keep_from = st.element.map_or(i, |(start, _)| start);
        self.buf.drain(..keep_from);
        if let Some((start, _)) = st.element.as_mut() {
            *start -= keep_from;
        }
        self.pos = i - keep_from;
    }
}

/// The first `needle` in `hay`, eight bytes at a time (a byte-by-byte scan
/// was the loader's largest single cost on large files).
fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    let mut chunks = hay.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes")) ^ pattern;
        // Flags the zero bytes of `x`; the lowest flag is exact (a false flag
        // can only follow a true one).
        let zero = x.wrapping_sub(LO) & !x & HI;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| at + i)
}

fn ltrim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn strip_bom(s: &[u8]) -> &[u8] {
    s.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memchr_finds_the_first_match() {
        let hay: Vec<u8> = (0..200u32)
            .map(|i| b"ab\n\xff\x0a\x8a\x09c"[(i * 7 % 8) as usize])
            .collect();
        for start in 0..hay.len() {
            for needle in [b'\n', b'c', 0x8a, 0xff, 0x00] {
                let h = &hay[start..];
                assert_eq!(memchr(needle, h), h.iter().position(|&b| b == needle));
            }
        }
        assert_eq!(memchr(b'\n', b""), None);
        assert_eq!(
            memchr(b'\n', b"\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\n"),
            Some(8)
        );
    }

    fn frame(input: &[u8], chunk: usize) -> (Vec<(u64, String)>, Option<Framing>) {
        let (recs, framing) = frame_at(input, chunk, usize::MAX);
        let recs = recs.into_iter().map(|(at, r)| (at.line, r)).collect();
        (recs, framing)
    }

    /// Records with their place; `"<too large>"` for one over `max`.
    fn frame_at(input: &[u8], chunk: usize, max: usize) -> (Vec<(At, String)>, Option<Framing>) {
        let mut f = Framer::new(max);
        let mut out = Vec::new();
        let mut emit = |at: At, r: Rec<'_>| {
            out.push((
                at,
                match r {
                    Rec::Bytes(r) => String::from_utf8_lossy(r).into_owned(),
                    Rec::TooLarge => "<too large>".into(),
                },
            ))
        };
        for c in input.chunks(chunk.max(1)) {
            f.push(c, &mut emit);
        }
        f.finish(&mut emit);
        let framing = f.framing();
        (out, framing)
    }

    #[test]
    fn lines_skip_blank_and_keep_numbers_across_any_chunking() {
        let input = b"{\"a\":1}\r\n\n  \n{\"a\":2}\n{\"a\":3}";
        for chunk in [1, 2, 3, 7, 100] {
            let (recs, framing) = frame(input, chunk);
            assert_eq!(framing, Some(Framing::Lines));
            assert_eq!(
                recs,
                vec![
                    (1, "{\"a\":1}".to_string()),
                    (4, "{\"a\":2}".to_string()),
                    (5, "{\"a\":3}".to_string())
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn array_elements_with_nested_brackets_and_strings() {
        let input = b"[\n  {\"x\": \"a,]\\\"}\", \"y\": [1, 2]},\n  {\"x\": \"b\"}\n]\n";
        for chunk in [1, 2, 5, 1000] {
            let (recs, framing) = frame(input, chunk);
            assert_eq!(framing, Some(Framing::Array));
            assert_eq!(
                recs,
                vec![
                    (2, "{\"x\": \"a,]\\\"}\", \"y\": [1, 2]}".to_string()),
                    (3, "{\"x\": \"b\"}".to_string())
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn unclosed_array_hands_over_the_rest() {
        let (recs, _) = frame(b"[{\"x\":1}, {\"x\":", 3);
        assert_eq!(recs, vec![(1, "{\"x\":1}".into()), (1, "{\"x\":".into())]);
    }

    #[test]
    fn content_after_array_is_noticed() {
        let mut f = Framer::new(100);
        f.push(b"[1]\n x", &mut |_, _| {});
        f.finish(&mut |_, _| {});
        assert_eq!(f.trailing_garbage_line, Some(2));
        assert!(!f.unclosed_array());
        let mut f = Framer::new(100);
        f.push(b"[1, 2", &mut |_, _| {});
        f.finish(&mut |_, _| {});
        assert!(f.unclosed_array());
    }

    fn at(line: u64, element: Option<u64>) -> At {
        At { line, element }
    }

    #[test]
    fn array_elements_carry_their_index() {
        let (recs, _) = frame_at(b"[{\"a\":1}, 7,\n \"x\"]", 3, usize::MAX);
        let places: Vec<At> = recs.iter().map(|r| r.0).collect();
        assert_eq!(places, [at(1, Some(1)), at(1, Some(2)), at(2, Some(3))]);
    }

    #[test]
    fn records_over_the_limit_are_skipped_without_being_buffered() {
        let big = "y".repeat(5000);
        let lines = format!("{{\"a\":1}}\n{{\"b\":\"{big}\"}}\n\n{{\"c\":3}}\n{{\"d\":\"{big}\"}}");
        let arr = format!("[{{\"a\":1}},\n{{\"b\":\"{big}\", \"n\": [1, {{\"x\": \"],\"}}]}}, {{\"c\":3}}, \"{big}\"]");
        for chunk in [1, 7, 100, 4096, 1 << 20] {
            let (recs, _) = frame_at(lines.as_bytes(), chunk, 1000);
            assert_eq!(
                recs,
                vec![
                    (at(1, None), "{\"a\":1}".to_string()),
                    (at(2, None), "<too large>".to_string()),
                    (at(4, None), "{\"c\":3}".to_string()),
                    (at(5, None), "<too large>".to_string()),
                ],
                "chunk {chunk}"
            );
            let (recs, _) = frame_at(arr.as_bytes(), chunk, 1000);
            assert_eq!(
                recs,
                vec![
                    (at(1, Some(1)), "{\"a\":1}".to_string()),
                    (at(2, Some(2)), "<too large>".to_string()),
                    (at(2, Some(3)), "{\"c\":3}".to_string()),
                    (at(2, Some(4)), "<too large>".to_string()),
                ],
                "chunk {chunk}"
            );
        }
        // Blanks around a record do not count, whatever the chunking.
        let padded = format!(
            "{}{{\"a\":\"{}\"}}\n{}\n",
            " ".repeat(3000),
            "q".repeat(990),
            " ".repeat(5000)
        );
        for chunk in [1, 5, 64, 1 << 20] {
            let (recs, _) = frame_at(padded.as_bytes(), chunk, 1000);
            assert_eq!(recs.len(), 1, "chunk {chunk}");
            assert_ne!(recs[0].1, "<too large>", "chunk {chunk}");
        }
        // Leading blanks are counted, not kept.
        let mut f = Framer::new(1000);
        let mut got = Vec::new();
        for _ in 0..10_000 {
            f.push(b" \n\t\r\n", &mut |_, _| {});
            assert!(f.buf.capacity() < 16 << 10, "{}", f.buf.capacity());
        }
        f.push(b"{\"a\":1}\n", &mut |at, _| got.push(at));
        f.finish(&mut |at, _| got.push(at));
        assert_eq!(got, [at(20_001, None)]);
        // The buffer never holds much more than the limit plus a chunk.
        let mut f = Framer::new(1000);
        f.push(b"{\"a\": \"", &mut |_, _| {});
        for _ in 0..1000 {
            f.push(&[b'z'; 4096], &mut |_, _| {});
            assert!(f.buf.capacity() < 16 << 10, "{}", f.buf.capacity());
        }
        let mut f = Framer::new(1000);
        f.push(b"[\"", &mut |_, _| {});
        for _ in 0..1000 {
            f.push(&[b'z'; 4096], &mut |_, _| {});
            assert!(f.buf.capacity() < 16 << 10, "{}", f.buf.capacity());
        }
    }
}
