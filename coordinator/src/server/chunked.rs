//! Finding where a `Transfer-Encoding: chunked` body ends, byte by byte as
//! it streams past, with the grammar hyper's decoder accepts (chunk sizes
//! in hex, optional spaces and `;extensions` before CRLF, trailer lines
//! after the last chunk), so that the head guard knows where the next
//! request head starts. Decoding the data is hyper's job.

/// Bytes of chunk extensions hyper accepts in one body.
const EXTENSIONS_LIMIT: u64 = 16 * 1024;
/// Bytes of trailer lines hyper accepts in one body.
const TRAILERS_LIMIT: usize = 16 * 1024;

/// Where in the chunked framing the scan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Size,
    SizeLws,
    Extension,
    SizeLf,
    Body,
    BodyCr,
    BodyLf,
    Trailer,
    TrailerLf,
    EndCr,
    EndLf,
    End,
}

/// The body is not chunked framing that hyper would read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadChunk;

/// A chunked body's framing, followed as its bytes stream past.
#[derive(Debug, Clone)]
pub(crate) struct ChunkScanner {
    state: State,
    size: u64,
    extensions: u64,
    trailers: usize,
}

impl ChunkScanner {
    /// A scan at the start of a body.
    pub(crate) fn new() -> Self {
        Self {
            state: State::Start,
            size: 0,
            extensions: 0,
            trailers: 0,
        }
    }

    /// Whether the whole body has been seen.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::End
    }

    /// Follows `bytes`, the next bytes of the stream, and returns how many
    /// of them belong to the body (all of them unless it ends inside).
    pub(crate) fn scan(&mut self, bytes: &[u8]) -> Result<usize, BadChunk> {
        let mut at = 0;
        while at < bytes.len() && self.state != State::End {
            if self.state == State::Body {
                let left = (bytes.len() - at) as u64;
                let take = self.size.min(left);
                at += take as usize;
                self.size -= take;
                if self.size == 0 {
                    self.state = State::BodyCr;
                }
                continue;
            }
            self.state = self.step(bytes[at])?;
            at += 1;
        }
        Ok(at)
    }

    fn step(&mut self, byte: u8) -> Result<State, BadChunk> {
        Ok(match self.state {
            State::Start => {
                self.size = 0;
                self.push_digit(byte)?;
                State::Size
            }
            State::Size => match byte {
                b'\t' | b' ' => State::SizeLws,
                b';' => State::Extension,
                b'\r' => State::SizeLf,
                _ => {
                    self.push_digit(byte)?;
                    State::Size
                }
            },
            State::SizeLws => match byte {
                b'\t' | b' ' => State::SizeLws,
                b';' => State::Extension,
                b'\r' => State::SizeLf,
                _ => return Err(BadChunk),
            },
            State::Extension => match byte {
                b'\r' => State::SizeLf,
                b'\n' => return Err(BadChunk),
                _ => {
                    self.extensions += 1;
                    if self.extensions >= EXTENSIONS_LIMIT {
                        return Err(BadChunk);
                    }
                    State::Extension
                }
            },
            State::SizeLf => match byte {
                b'\n' if self.size == 0 => State::EndCr,
                b'\n' => State::Body,
                _ => return Err(BadChunk),
            },
            State::BodyCr => match byte {
                b'\r' => State::BodyLf,
                _ => return Err(BadChunk),
            },
            State::BodyLf => match byte {
                b'\n' => State::Start,
                _ => return Err(BadChunk),
            },
            State::Trailer => {
                self.count_trailer_byte()?;
                match byte {
                    b'\r' => State::TrailerLf,
                    _ => State::Trailer,
                }
            }
            State::TrailerLf => match byte {
                b'\n' => {
                    self.count_trailer_byte()?;
                    State::EndCr
                }
                _ => return Err(BadChunk),
            },
            State::EndCr => match byte {
                b'\r' => State::EndLf,
                _ => {
                    self.count_trailer_byte()?;
                    State::Trailer
                }
            },
            State::EndLf => match byte {
                b'\n' => State::End,
                _ => return Err(BadChunk),
            },
            State::Body | State::End => self.state,
        })
    }

    fn push_digit(&mut self, byte: u8) -> Result<(), BadChunk> {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            b'A'..=b'F' => byte - b'A' + 10,
            _ => return Err(BadChunk),
        };
        self.size = self
            .size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(digit)))
            .ok_or(BadChunk)?;
        Ok(())
    }

    fn count_trailer_byte(&mut self) -> Result<(), BadChunk> {
        self.trailers += 1;
        if self.trailers >= TRAILERS_LIMIT {
            return Err(BadChunk);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(pieces: &[&[u8]]) -> Result<(usize, bool), BadChunk> {
        let mut scanner = ChunkScanner::new();
        let mut total = 0;
        for piece in pieces {
            total += scanner.scan(piece)?;
            if scanner.is_done() {
                break;
            }
        }
        Ok((total, scanner.is_done()))
    }

    #[test]
    fn the_body_ends_after_the_last_chunk() {
        let body = b"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let (used, done) = scan_all(&[body]).expect("valid framing");
        assert!(done);
        assert_eq!(&body[used..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn the_end_is_found_across_any_split() {
        let body: &[u8] =
            b"A;name=value\r\n0123456789\r\n3 \r\nabc\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        let end = body.len() - 4;
        for split in 0..body.len() {
            let (used, done) = scan_all(&[&body[..split], &body[split..]]).expect("valid");
            assert!(done, "split at {split}");
            assert_eq!(used, end, "split at {split}");
        }
    }

    #[test]
    fn bad_framing_is_refused() {
        for bad in [
            &b"x\r\n"[..],
            b"5\nhello",
            b"5\r\nhelloXX",
            b"5;ext\nhi",
            b"FFFFFFFFFFFFFFFFF\r\n",
            b"0\r\n\r\r",
        ] {
            assert_eq!(scan_all(&[bad]), Err(BadChunk), "{bad:?}");
        }
    }

    #[test]
    fn an_unfinished_body_is_not_done() {
        assert_eq!(scan_all(&[b"5\r\nhel"]), Ok((6, false)));
    }
}
