//! Framing: turning a byte stream into records.
//!
//! Two framings exist. A file whose first non-blank byte is `[` is one JSON
//! array and each element is a record; anything else is JSON Lines and each
//! non-blank line is a record. Both work on chunks of any size, so a file never
//! has to be in memory whole; each record carries the 1-based line on which it
//! starts.

/// A framer that has not yet seen enough bytes to choose, or has chosen.
#[derive(Debug, Default)]
pub(crate) struct Framer {
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
    pub(crate) fn new() -> Self {
        Framer {
            line: 1,
            ..Default::default()
        }
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

    /// Feeds bytes; calls `emit(line, record)` for each complete record.
    pub(crate) fn push(&mut self, bytes: &[u8], emit: &mut impl FnMut(u64, &[u8])) {
        self.buf.extend_from_slice(bytes);
        self.scan(false, emit);
    }

    /// Ends the stream; emits a last record without a trailing newline.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(u64, &[u8])) {
        self.scan(true, emit);
        if self.mode == Mode::Array {
            if let Some((start, line)) = self.array.element.take() {
                // An array that never closed: hand over what we have, the parser reports it.
                let rec = trim(&self.buf[start..]);
                if !rec.is_empty() {
                    emit(line, rec);
                }
            }
        }
        self.buf.clear();
        self.pos = 0;
    }

    fn scan(&mut self, at_end: bool, emit: &mut impl FnMut(u64, &[u8])) {
        if self.mode == Mode::Undecided {
            let first = self.buf[self.pos..]
                .iter()
                .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF);
            match first {
                None if !at_end => return,
                None => return,
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

    fn scan_lines(&mut self, at_end: bool, emit: &mut impl FnMut(u64, &[u8])) {
        let mut start = 0;
        while let Some(nl) = memchr(b'\n', &self.buf[self.pos..]) {
            let end = self.pos + nl;
            let rec = trim(strip_bom(&self.buf[start..end]));
            if !rec.is_empty() {
                emit(self.line, rec);
            }
            self.line += 1;
            self.pos = end + 1;
            start = self.pos;
        }
        if at_end && start < self.buf.len() {
            let rec = trim(strip_bom(&self.buf[start..]));
            if !rec.is_empty() {
                emit(self.line, rec);
            }
            start = self.buf.len();
        }
        self.buf.drain(..start);
        self.pos = self.buf.len();
    }

    fn scan_array(&mut self, emit: &mut impl FnMut(u64, &[u8])) {
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
                    if let Some((start, line)) = st.element.take() {
                        let rec = trim(&self.buf[start..i]);
                        if !rec.is_empty() {
                            emit(line, rec);
                        }
                    }
                    if b == b']' {
                        st.depth = 0;
                        st.closed = true;
                    }
                }
                (1, c) if c.is_ascii_whitespace() => {}
                (d, c) => {
                    if d == 1 && st.element.is_none() {
                        st.element = Some((i, self.line));
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
        let mut f = Framer::new();
        let mut out = Vec::new();
        let mut emit = |l: u64, r: &[u8]| out.push((l, String::from_utf8_lossy(r).into_owned()));
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
        let mut f = Framer::new();
        f.push(b"[1]\n x", &mut |_, _| {});
        f.finish(&mut |_, _| {});
        assert_eq!(f.trailing_garbage_line, Some(2));
    }
}
