//! Packing a matrix's Dana text directly, without building the matrix: for
//! a product the coordinator holds as text (perhaps in pieces, one per
//! part of a split task) and a client asked for packed.
//!
//! Only the text [`crate::text::write_i64`] writes is packed (no spaces, no
//! leading zeros, no `-0`, no `+`, every row as long as the first), so that
//! unpacking gives that text back byte for byte. Anything else is left to
//! go as text.

use super::{MAGIC, push_varint};

/// Where the reader is in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the outer `[`.
    Start,
    /// After `[` or `],`: a row's `[` comes next.
    RowStart,
    /// After a row's `[` or a `,`: a value comes next.
    ValueStart,
    /// After a `-`: a digit from 1 to 9 comes next.
    Minus,
    /// After a value's first digit `0`: only `,` or `]` may follow.
    Zero,
    /// Inside a value's digits.
    Digits,
    /// After a row's `]`: `,` or the outer `]`.
    RowEnd,
    /// After the outer `]`: nothing more.
    Done,
}

/// Packs the Dana text of an integer matrix fed in pieces; see the module.
#[derive(Debug)]
pub struct TextPacker {
    at: At,
    values: Vec<u8>,
    magnitude: u64,
    negative: bool,
    rows: u64,
    cols: Option<u64>,
    in_row: u64,
}

impl TextPacker {
    /// A packer for a text of about `text_len` bytes.
    #[must_use]
    pub fn new(text_len: usize) -> Self {
        Self {
            at: At::Start,
            values: Vec::with_capacity(text_len / 2 + 16),
            magnitude: 0,
            negative: false,
            rows: 0,
            cols: None,
            in_row: 0,
        }
    }

    /// Reads the next piece of the text; `false` once the text is not one
    /// this packs (every later call is `false` too).
    pub fn feed(&mut self, piece: &[u8]) -> bool {
        for &byte in piece {
            if !self.step(byte) {
                self.at = At::Done;
                self.rows = 0;
                return false;
            }
        }
        self.rows > 0 || self.at != At::Done
    }

    /// The packed matrix, or `None` when the text was not a whole
    /// matrix this packs.
    #[must_use]
    pub fn finish(self) -> Option<Vec<u8>> {
        if self.at != At::Done || self.rows == 0 {
            return None;
        }
        let cols = self.cols?;
        let mut packed = Vec::with_capacity(MAGIC.len() + 20 + self.values.len());
        packed.extend_from_slice(MAGIC);
        push_varint(&mut packed, self.rows);
        push_varint(&mut packed, cols);
        packed.extend_from_slice(&self.values);
        Some(packed)
    }

    fn step(&mut self, byte: u8) -> bool {
        match (self.at, byte) {
            (At::Digits, b'0'..=b'9') => {
                let digit = u64::from(byte - b'0');
                match self
                    .magnitude
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(digit))
                {
                    Some(magnitude) => self.magnitude = magnitude,
                    None => return false,
                }
            }
            (At::Digits | At::Zero, b',' | b']') => {
                if !self.push_value() {
                    return false;
                }
                if byte == b',' {
                    self.at = At::ValueStart;
                } else {
                    if self.cols.is_some_and(|cols| cols != self.in_row) {
                        return false;
                    }
                    self.cols = Some(self.in_row);
                    self.rows += 1;
                    self.at = At::RowEnd;
                }
            }
            (At::ValueStart, b'0') => self.start_value(false, 0, At::Zero),
            (At::ValueStart, b'1'..=b'9') => {
                self.start_value(false, u64::from(byte - b'0'), At::Digits);
            }
            (At::ValueStart, b'-') => self.start_value(true, 0, At::Minus),
            (At::Minus, b'1'..=b'9') => {
                self.magnitude = u64::from(byte - b'0');
                self.at = At::Digits;
            }
            (At::Start, b'[') => self.at = At::RowStart,
            (At::RowStart, b'[') => {
                self.in_row = 0;
                self.at = At::ValueStart;
            }
            (At::RowEnd, b',') => self.at = At::RowStart,
            (At::RowEnd, b']') => self.at = At::Done,
            _ => return false,
        }
        true
    }

    fn start_value(&mut self, negative: bool, magnitude: u64, at: At) {
        self.negative = negative;
        self.magnitude = magnitude;
        self.at = at;
    }

    /// Appends the value just read, zigzagged; `false` when it does not
    /// fit in an `i64`.
    fn push_value(&mut self) -> bool {
        let zigzag = if self.negative {
            // -m is 2m - 1 zigzagged; -2^63 is the most negative.
            if self.magnitude > 1 << 63 {
                return false;
            }
            (self.magnitude - 1) * 2 + 1
        } else {
            if self.magnitude > i64::MAX as u64 {
                return false;
            }
            self.magnitude * 2
        };
        push_varint(&mut self.values, zigzag);
        self.in_row += 1;
        true
    }
}

/// The packed form of the Dana text `pieces` (one text cut anywhere), when
/// it is an integer matrix as the kernel writes it; see the module.
#[must_use]
pub fn pack_text<'a>(
    pieces: impl IntoIterator<Item = &'a [u8]>,
    text_len: usize,
) -> Option<Vec<u8>> {
    let mut packer = TextPacker::new(text_len);
    for piece in pieces {
        if !packer.feed(piece) {
            return None;
        }
    }
    packer.finish()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;
    use crate::Matrix;
    use crate::packed::{pack_i64, unpack_to_text};
    use crate::text::write_i64;

    fn packed(text: &str) -> Option<Vec<u8>> {
        pack_text([text.as_bytes()], text.len())
    }

    #[test]
    fn the_kernels_text_packs_as_its_matrix_does() {
        let m = Matrix::new(2, 3, vec![0, -1, 64, i64::MIN, i64::MAX, 10]).unwrap();
        let text = write_i64(&m);
        assert_eq!(packed(&text), Some(pack_i64(&m)));
        assert_eq!(
            packed("[[7]]"),
            Some(pack_i64(&Matrix::new(1, 1, vec![7]).unwrap()))
        );
    }

    #[test]
    fn other_texts_are_left_as_text() {
        for text in [
            "",
            "[]",
            "[[]]",
            "[[1,2],[3]]",
            "[[1],[2,3]]",
            "[[1, 2]]",
            " [[1]]",
            "[[1]] ",
            "[[01]]",
            "[[-0]]",
            "[[+1]]",
            "[[-]]",
            "[[1.5]]",
            "[[1e3]]",
            "[[1,]]",
            "[[,1]]",
            "[[1]],",
            "[[1]][[2]]",
            "[[1]",
            "[[1],]",
            "[[\"1\"]]",
            "[[9223372036854775808]]",
            "[[-9223372036854775809]]",
            "[[99999999999999999999]]",
        ] {
            assert_eq!(packed(text), None, "{text:?}");
        }
        assert!(packed("[[-9223372036854775808]]").is_some());
    }

    #[test]
    fn a_refused_text_stays_refused() {
        let mut packer = TextPacker::new(8);
        assert!(!packer.feed(b"[[1 "));
        assert!(!packer.feed(b"]]"));
        assert_eq!(packer.finish(), None);
    }

    proptest! {
        #[test]
        fn text_cut_anywhere_packs_and_unpacks_to_itself(
            (rows, cols, data) in (1usize..6, 1usize..6).prop_flat_map(|(r, c)| {
                (Just(r), Just(c), proptest::collection::vec(any::<i64>(), r * c))
            }),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        ) {
            let m = Matrix::new(rows, cols, data).unwrap();
            let text = write_i64(&m).into_bytes();
            let mut at: Vec<usize> = cuts.iter().map(|cut| cut.index(text.len() + 1)).collect();
            at.sort_unstable();
            let mut pieces = Vec::new();
            let mut from = 0;
            for to in at.into_iter().chain([text.len()]) {
                pieces.push(&text[from..to]);
                from = to;
            }
            let bytes = pack_text(pieces, text.len()).unwrap();
            prop_assert_eq!(&bytes, &pack_i64(&m));
            prop_assert_eq!(unpack_to_text(&bytes, usize::MAX).unwrap(), text);
        }
    }
}
