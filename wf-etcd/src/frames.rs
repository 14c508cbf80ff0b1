//! Cutting a watch stream into its JSON messages, with bounds.
//!
//! The gateway streams one JSON object per message (followed by a newline,
//! but the cut does not rely on it); pieces of the HTTP body split them
//! anywhere. [`Frames`] keeps at most one unfinished message, of at most
//! `max` bytes and [`MAX_DEPTH`] levels of nesting, and scans each byte
//! once.

use bytes::{Bytes, BytesMut};
use wf_core::Error;

use crate::code;

/// The deepest nesting of objects and arrays a message may have (etcd's
/// watch messages nest five deep).
pub(crate) const MAX_DEPTH: usize = 32;

/// Splits a byte stream into top-level JSON objects.
#[derive(Debug)]
pub(crate) struct Frames {
    buf: BytesMut,
    /// How far `buf` was scanned.
    scanned: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
    max: usize,
}

impl Frames {
    /// A splitter for messages of at most `max` bytes.
    pub(crate) fn new(max: usize) -> Frames {
        Frames { buf: BytesMut::new(), scanned: 0, depth: 0, in_string: false, escaped: false, max }
    }

    /// Takes `piece` and returns the messages it completed. A message over
    /// the limit, nested too deep, or anything but objects at the top
    /// level is an error; the splitter must not be used after one.
    pub(crate) fn push(&mut self, piece: &[u8]) -> Result<Vec<Bytes>, Error> {
        let mut out = Vec::new();
        let mut piece = piece;
        while !piece.is_empty() {
            // Never buffer more than the rest of one message's allowance.
            let room = (self.max + 1).saturating_sub(self.buf.len());
            let take = piece.len().min(room.max(1));
            self.buf.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            self.scan(&mut out)?;
            if self.buf.len() > self.max {
                return Err(Error::sys(libc::EMSGSIZE)
                    .with_cause(format!("etcd watch: a message over the limit of {} bytes", self.max)));
            }
        }
        Ok(out)
    }

    fn scan(&mut self, out: &mut Vec<Bytes>) -> Result<(), Error> {
        let mut i = self.scanned;
        while i < self.buf.len() {
            let b = self.buf[i];
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
            } else if self.depth == 0 {
                match b {
                    b' ' | b'\t' | b'\r' | b'\n' => {
                        // Between messages: drop it.
                        let _ = self.buf.split_to(i + 1);
                        i = 0;
                        continue;
                    }
                    b'{' => self.depth = 1,
                    _ => {
                        let found = String::from_utf8_lossy(&self.buf[i..self.buf.len().min(i + 40)]).into_owned();
                        return Err(code::error(
                            code::BAD_REPLY,
                            format!("etcd watch: expected a JSON object, found {found:?}"),
                        ));
                    }
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => {
                        self.depth += 1;
                        if self.depth > MAX_DEPTH {
                            return Err(code::error(
                                code::BAD_REPLY,
                                format!("etcd watch: a message nested deeper than {MAX_DEPTH}"),
                            ));
                        }
                    }
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            out.push(self.buf.split_to(i + 1).freeze());
                            i = 0;
                            continue;
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        self.scanned = i;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(f: &mut Frames, pieces: &[&[u8]]) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for p in pieces {
            out.extend(f.push(p)?.into_iter().map(|b| String::from_utf8(b.to_vec()).unwrap()));
        }
        Ok(out)
    }

    #[test]
    fn messages_cut_anywhere_come_out_whole() {
        let stream = b"{\"a\":{\"b\":[1,2]}}\n{\"s\":\"}{\\\"\"}\r\n  {}";
        for cut in 0..stream.len() {
            let mut f = Frames::new(1024);
            let got = all(&mut f, &[&stream[..cut], &stream[cut..]]).unwrap();
            assert_eq!(got, ["{\"a\":{\"b\":[1,2]}}", "{\"s\":\"}{\\\"\"}", "{}"], "cut at {cut}");
        }
        // Byte by byte.
        let mut f = Frames::new(1024);
        let pieces: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(all(&mut f, &pieces).unwrap().len(), 3);
    }

    #[test]
    fn a_message_over_the_limit_is_an_error_and_not_buffered() {
        let mut f = Frames::new(100);
        assert_eq!(f.push(&[b' '; 1000]).unwrap().len(), 0);
        let mut huge = b"{\"k\":\"".to_vec();
        huge.extend(std::iter::repeat_n(b'x', 10_000));
        let e = f.push(&huge).unwrap_err();
        assert_eq!(e.code(), libc::EMSGSIZE);
        assert!(f.buf.len() <= 101, "buffered {}", f.buf.len());
        // Exactly at the limit is fine.
        let mut f = Frames::new(8);
        assert_eq!(f.push(b"{\"a\":12}").unwrap().len(), 1);
    }

    #[test]
    fn garbage_and_deep_nesting_are_errors() {
        let e = Frames::new(100).push(b"<html>").unwrap_err();
        assert_eq!(e.code(), code::BAD_REPLY);
        assert!(e.to_string().contains("expected a JSON object"), "{e}");
        let deep = "{\"a\":".to_owned() + &"[".repeat(MAX_DEPTH + 1);
        let e = Frames::new(1 << 20).push(deep.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("nested deeper"), "{e}");
        // A lone closing bracket at the top level.
        assert!(Frames::new(100).push(b"]").is_err());
    }
}
