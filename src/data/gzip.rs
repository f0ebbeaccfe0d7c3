//! A push-based gzip decoder (RFC 1952, any number of members).
//!
//! Bytes go in as they arrive; decompressed bytes go straight to a sink, so
//! everything decoded before a corrupt block reaches the loader, whatever the
//! chunking.

use flate2::{Decompress, FlushDecompress, Status};

const OUT: usize = 64 * 1024;

enum State {
    /// Collecting a member header.
    Header(Vec<u8>),
    Body,
    /// Collecting the 8-byte trailer.
    Trailer(Vec<u8>),
    /// Bytes after the last member that are not a gzip header: ignored.
    Trailing,
    Failed,
}

/// The CRC-32 of a gzip member (RFC 1952: the reflected polynomial
/// 0xEDB88320) and its length mod 2^32, as `flate2::Crc` computes them,
/// 16 bytes at a time. Its tables are built when a stream starts rather than
/// stored in the binary: `flate2::Crc`'s 16 KB of constants barely
/// compress, and they were part of the app's first download.
struct Crc32 {
    /// `tables[k][b]`: the CRC of byte `b` followed by `k` zero bytes.
    tables: Box<[[u32; 256]; 16]>,
    crc: u32,
    amount: u32,
}

impl Crc32 {
    fn new() -> Self {
        let mut tables = Box::new([[0u32; 256]; 16]);
        for (b, t) in tables[0].iter_mut().enumerate() {
            *t = (0..8).fold(b as u32, |c, _| {
                if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                }
            });
        }
        for k in 1..16 {
            for b in 0..256 {
                let prev = tables[k - 1][b];
                tables[k][b] = (prev >> 8) ^ tables[0][(prev & 0xFF) as usize];
            }
        }
        Crc32 {
            tables,
            crc: 0,
            amount: 0,
        }
    }

    fn reset(&mut self) {
        self.crc = 0;
        self.amount = 0;
    }

    fn update(&mut self, bytes: &[u8]) {
        let t = &*self.tables;
        let mut crc = !self.crc;
        let mut blocks = bytes.chunks_exact(16);
        for b in &mut blocks {
            let x = crc ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            crc = t[15][(x & 0xFF) as usize]
                ^ t[14][((x >> 8) & 0xFF) as usize]
                ^ t[13][((x >> 16) & 0xFF) as usize]
                ^ t[12][(x >> 24) as usize];
            for (j, &byte) in b.iter().enumerate().skip(4) {
                crc ^= t[15 - j][byte as usize];
            }
        }
        for &byte in blocks.remainder() {
            crc = (crc >> 8) ^ t[0][((crc ^ u32::from(byte)) & 0xFF) as usize];
        }
        self.crc = !crc;
        self.amount = self.amount.wrapping_add(bytes.len() as u32);
    }

    fn sum(&self) -> u32 {
        self.crc
    }

    fn amount(&self) -> u32 {
        self.amount
    }
}

pub(crate) struct GzipStream {
    state: State,
    inflate: Decompress,
    crc: Crc32,
    out: Vec<u8>,
    members: u32,
}

/// How long a complete header in `h` is, `Ok(None)` if more bytes are needed.
fn header_len(h: &[u8]) -> Result<Option<usize>, String> {
    if h.len() < 10 {
        return Ok(None);
    }
    if h[0] != 0x1f || h[1] != 0x8b {
        return Err("not a gzip member header".into());
    }
    if h[2] != 8 {
        return Err(format!("unknown gzip compression method {}", h[2]));
    }
    let flags = h[3];
    let mut at = 10;
    if flags & 4 != 0 {
        if h.len() < at + 2 {
            return Ok(None);
        }
        at += 2 + u16::from_le_bytes([h[at], h[at + 1]]) as usize;
    }
    for bit in [8u8, 16] {
        if flags & bit != 0 {
            match h.get(at..).and_then(|r| r.iter().position(|&b| b == 0)) {
                Some(end) => at += end + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 2 != 0 {
        at += 2;
    }
    Ok((h.len() >= at).then_some(at))
}

impl GzipStream {
    pub(crate) fn new() -> Self {
        GzipStream {
            state: State::Header(Vec::new()),
            inflate: Decompress::new(false),
            crc: Crc32::new(),
            out: vec![0; OUT],
            members: 0,
        }
    }

    /// Decodes `input`, calling `sink` with each run of decompressed bytes.
    pub(crate) fn push(
        &mut self,
        mut input: &[u8],
        sink: &mut impl FnMut(&[u8]),
    ) -> Result<(), String> {
        let r = self.push_inner(&mut input, sink);
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn push_inner(
        &mut self,
        input: &mut &[u8],
        sink: &mut impl FnMut(&[u8]),
    ) -> Result<(), String> {
        loop {
            match &mut self.state {
                State::Failed => return Ok(()),
                State::Trailing => {
                    *input = &[];
                    return Ok(());
                }
                State::Header(h) => {
                    if input.is_empty() {
                        return Ok(());
                    }
                    if h.is_empty() && self.members > 0 && input.iter().all(|&b| b == 0) {
                        // Zero padding after the last member.
                        *input = &[];
                        return Ok(());
                    }
                    let before = h.len();
                    h.extend_from_slice(input);
                    let magic = [0x1f, 0x8b];
                    let n = h.len().min(2);
                    if self.members > 0 && h[..n] != magic[..n] {
                        // Not another member: the data ended with the last one.
                        *input = &[];
                        self.state = State::Trailing;
                        return Ok(());
                    }
                    match header_len(h)? {
                        None => {
                            *input = &[];
                            return Ok(());
                        }
                        Some(n) => {
                            *input = &input[n - before..];
                            self.inflate.reset(false);
                            self.crc.reset();
                            self.state = State::Body;
                        }
                    }
                }
                State::Body => {
                    let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
                    let res = self
                        .inflate
                        .decompress(input, &mut self.out, FlushDecompress::None);
                    // Hand over what was decoded even when the call then failed.
                    let used = (self.inflate.total_in() - in0) as usize;
                    let made = (self.inflate.total_out() - out0) as usize;
                    *input = &input[used..];
                    if made > 0 {
                        self.crc.update(&self.out[..made]);
                        sink(&self.out[..made]);
                    }
                    let status = res.map_err(|e| format!("corrupt compressed data ({e})"))?;
                    if status == Status::StreamEnd {
                        self.state = State::Trailer(Vec::new());
                    } else if (input.is_empty() && made < self.out.len())
                        || (used == 0 && made == 0)
                    {
                        // All input consumed and the output drained, or no progress possible:
                        // wait for more input. (Output without input use can still come, from
                        // the decoder's window; that is not a reason to stop.)
                        return Ok(());
                    }
                }
                State::Trailer(t) => {
                    let take = (8 - t.len()).min(input.len());
                    t.extend_from_slice(&input[..take]);
                    *input = &input[take..];
                    if t.len() < 8 {
                        return Ok(());
                    }
                    let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
                    let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
                    if crc != self.crc.sum() || size != self.crc.amount() {
                        return Err("checksum mismatch: the data is damaged".into());
                    }
                    self.members += 1;
                    self.state = State::Header(Vec::new());
                }
            }
        }
    }

    /// Whether bytes after the last complete member were ignored.
    pub(crate) fn trailing(&self) -> bool {
        matches!(self.state, State::Trailing)
    }

    /// Ends the stream: an error if it stopped inside a member.
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        match &self.state {
            State::Header(h) if h.is_empty() && self.members > 0 => Ok(()),
            State::Failed | State::Trailing => Ok(()),
            _ => {
                self.state = State::Failed;
                Err("the gzip stream ends early (truncated file?)".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode(bytes: &[u8], chunk: usize) -> (Vec<u8>, Result<(), String>) {
        let mut d = GzipStream::new();
        let mut out = Vec::new();
        for c in bytes.chunks(chunk) {
            if let Err(e) = d.push(c, &mut |b| out.extend_from_slice(b)) {
                return (out, Err(e));
            }
        }
        let r = d.finish();
        (out, r)
    }

    /// The CRC and length agree with flate2's for every length and split.
    #[test]
    fn crc_agrees_with_flate2() {
        let data: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in (0..70).chain([1000, 4999, 5000]) {
            for split in [0, 1, 5, 16, 17, 33].into_iter().filter(|&s| s <= len) {
                let mut ours = Crc32::new();
                let mut theirs = flate2::Crc::new();
                for part in [&data[..split], &data[split..len]] {
                    ours.update(part);
                    theirs.update(part);
                }
                assert_eq!(
                    (ours.sum(), ours.amount()),
                    (theirs.sum(), theirs.amount()),
                    "len {len} split {split}"
                );
            }
        }
        let mut c = Crc32::new();
        c.update(b"123456789");
        assert_eq!(c.sum(), 0xCBF4_3926, "the standard check value");
        c.reset();
        assert_eq!((c.sum(), c.amount()), (0, 0));
    }

    #[test]
    fn members_concatenate_under_any_chunking() {
        let a: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let mut two = gz(&a);
        two.extend(gz(b"second member"));
        two.extend([0, 0, 0]);
        for chunk in [1, 7, 4096, 1 << 20] {
            let (out, r) = decode(&two, chunk);
            assert_eq!(r, Ok(()));
            assert_eq!(out.len(), a.len() + 13, "chunk {chunk}");
            assert!(out.ends_with(b"second member"));
        }
    }

    #[test]
    fn real_file_in_chunks_smaller_than_its_blocks() {
        // HH-RLHF decompresses ~4.4x: 64 KB pushes fill the output buffer mid-input.
        let gz = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/hh-rlhf-harmless-base/test.jsonl.gz"
        ))
        .unwrap();
        let mut want = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut want)
            .unwrap();
        for chunk in [4096, 65536, 1 << 22] {
            let (out, r) = decode(&gz, chunk);
            assert_eq!(r, Ok(()), "chunk {chunk}");
            assert!(
                out == want,
                "chunk {chunk}: {} of {} bytes",
                out.len(),
                want.len()
            );
        }
    }

    #[test]
    fn truncation_and_damage_are_errors() {
        let g = gz(b"hello world, hello world, hello world");
        assert!(decode(&g[..g.len() - 3], 5).1.is_err());
        let mut bad = g.clone();
        let n = bad.len();
        bad[n - 8] ^= 0xff; // the CRC
        assert_eq!(decode(&bad, 3).0, b"hello world, hello world, hello world");
        assert!(decode(&bad, 3).1.unwrap_err().contains("checksum"));
        assert!(decode(b"\x1f\x8b\x09rest-of-it", 4).1.is_err());
    }

    #[test]
    fn bytes_after_the_last_member_are_trailing_not_truncation() {
        for tail in [&b"x"[..], b"\x1fz", b"garbage after the end of it all"] {
            let mut g = gz(b"complete");
            g.extend_from_slice(tail);
            for chunk in [1, 3, 1000] {
                let mut d = GzipStream::new();
                let mut out = Vec::new();
                for c in g.chunks(chunk) {
                    d.push(c, &mut |b| out.extend_from_slice(b)).unwrap();
                }
                assert_eq!(d.finish(), Ok(()), "{tail:?} chunk {chunk}");
                assert!(d.trailing());
                assert_eq!(out, b"complete");
            }
        }
    }
}
