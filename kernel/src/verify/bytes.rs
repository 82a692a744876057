//! A prepared check as bytes, so that it can be kept with its task and
//! checked with elsewhere (another process) without the operands: its
//! random vectors and `A_i·(B·r)` values, `O(m + n)` numbers, little-endian,
//! after a format byte. Reading checks every length against the bytes
//! left, so corrupt bytes give `None`, never a panic or a huge allocation.

use super::float::{FloatCheck, FloatRound};
use super::integer::{IntCheck, IntRounds, Modulus, PrimeRound};
use super::{CheckKind, ProductCheck};

/// The first byte of this format.
const FORMAT: u8 = 1;

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64s(&mut self, values: impl ExactSizeIterator<Item = u64>) {
        self.u64(values.len() as u64);
        for v in values {
            self.u64(v);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }
    fn u64(&mut self) -> Option<u64> {
        let (head, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*head))
    }
    fn usize(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }
    /// A length, when that many `width`-byte values are left.
    fn len(&mut self, width: usize) -> Option<usize> {
        let len = self.usize()?;
        (len.checked_mul(width)? <= self.0.len()).then_some(len)
    }
    fn u64s(&mut self) -> Option<Vec<u64>> {
        let len = self.len(8)?;
        (0..len).map(|_| self.u64()).collect()
    }
}

impl ProductCheck {
    /// The check as bytes ([`ProductCheck::from_bytes`] reads them back).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.u8(FORMAT);
        w.u64(self.rows as u64);
        w.u64(self.cols as u64);
        w.u8(u8::from(self.may_fail));
        match &self.kind {
            CheckKind::Int(check) => {
                w.u8(0);
                w.u64(check.row_abs.len() as u64);
                for &v in &check.row_abs {
                    w.u64(v as u64);
                    w.u64((v >> 64) as u64);
                }
                w.u64(check.cols as u64);
                w.u64(check.b_max);
                match &check.rounds {
                    IntRounds::Wrapping { r, abr } => {
                        w.u8(0);
                        w.u64s(r.iter().map(|&v| v as u64));
                        w.u64s(abr.iter().map(|&v| v as u64));
                    }
                    IntRounds::Primes(rounds) => {
                        w.u8(1);
                        w.u64(rounds.len() as u64);
                        for round in rounds {
                            w.u64(round.modulus.q);
                            w.u64s(round.r.iter().copied());
                            w.u64s(round.abr.iter().copied());
                        }
                    }
                }
            }
            CheckKind::Float(check) => {
                w.u8(1);
                w.u64(check.gamma_k.to_bits());
                w.u64(check.gamma_n.to_bits());
                w.u64s(check.floors.iter().map(|v| v.to_bits()));
                w.u64(check.rounds.len() as u64);
                for round in &check.rounds {
                    for values in [&round.r, &round.y, &round.w] {
                        w.u64s(values.iter().map(|v| v.to_bits()));
                    }
                }
            }
        }
        w.0
    }

    /// The check [`ProductCheck::to_bytes`] wrote; `None` for bytes that
    /// are not one (another format, cut short, lengths that do not add up).
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        if r.u8()? != FORMAT {
            return None;
        }
        let rows = r.usize()?;
        let cols = r.usize()?;
        let may_fail = r.u8()? != 0;
        let kind = match r.u8()? {
            0 => {
                let len = r.len(16)?;
                let row_abs = (0..len)
                    .map(|_| Some(u128::from(r.u64()?) | (u128::from(r.u64()?) << 64)))
                    .collect::<Option<Vec<u128>>>()?;
                let check_cols = r.usize()?;
                let b_max = r.u64()?;
                let rounds = match r.u8()? {
                    0 => {
                        let as_i64 = |v: Vec<u64>| v.into_iter().map(|v| v as i64).collect();
                        IntRounds::Wrapping {
                            r: as_i64(r.u64s()?),
                            abr: as_i64(r.u64s()?),
                        }
                    }
                    1 => {
                        let count = r.len(24)?;
                        let rounds = (0..count)
                            .map(|_| {
                                let q = r.u64()?;
                                // Only the primes a check is prepared with.
                                super::PRIMES.contains(&q).then_some(())?;
                                Some(PrimeRound {
                                    modulus: Modulus::new(q),
                                    r: r.u64s()?,
                                    abr: r.u64s()?,
                                })
                            })
                            .collect::<Option<Vec<_>>>()?;
                        IntRounds::Primes(rounds)
                    }
                    _ => return None,
                };
                CheckKind::Int(IntCheck {
                    row_abs,
                    cols: check_cols,
                    b_max,
                    rounds,
                })
            }
            1 => {
                let gamma_k = f64::from_bits(r.u64()?);
                let gamma_n = f64::from_bits(r.u64()?);
                let floats = |v: Vec<u64>| v.into_iter().map(f64::from_bits).collect::<Vec<f64>>();
                let floors = floats(r.u64s()?);
                let count = r.len(24)?;
                let rounds = (0..count)
                    .map(|_| {
                        Some(FloatRound {
                            r: floats(r.u64s()?),
                            y: floats(r.u64s()?),
                            w: floats(r.u64s()?),
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                CheckKind::Float(FloatCheck {
                    gamma_k,
                    gamma_n,
                    floors,
                    rounds,
                })
            }
            _ => return None,
        };
        let check = Self {
            kind,
            rows,
            cols,
            may_fail,
        };
        (r.0.is_empty() && check.consistent()).then_some(check)
    }

    /// Whether every vector has the length the shape says, so that checking
    /// a result cannot index out of bounds.
    fn consistent(&self) -> bool {
        match &self.kind {
            CheckKind::Int(check) => {
                let rows_ok = |v: usize| v == self.rows;
                rows_ok(check.row_abs.len())
                    && check.cols == self.cols
                    && match &check.rounds {
                        IntRounds::Wrapping { r, abr } => {
                            r.len() == self.cols && rows_ok(abr.len())
                        }
                        IntRounds::Primes(rounds) => {
                            !rounds.is_empty()
                                && rounds
                                    .iter()
                                    .all(|p| p.r.len() == self.cols && rows_ok(p.abr.len()))
                        }
                    }
            }
            CheckKind::Float(check) => {
                check.floors.len() == self.rows
                    && !check.rounds.is_empty()
                    && check.rounds.iter().all(|round| {
                        round.r.len() == self.cols
                            && round.y.len() == self.rows
                            && round.w.len() == self.rows
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn checks() -> Vec<(ProductCheck, &'static str, &'static str, &'static str)> {
        let cases = [
            // Small integers: the wrapping round.
            (
                "[[1,2],[3,4]]",
                "[[5,6],[7,8]]",
                "[[19,22],[43,50]]",
                "[[19,22],[43,51]]",
            ),
            // Large integers: rounds modulo primes.
            (
                "[[9000000000000,2],[3,4]]",
                "[[5000000,6],[7,8]]",
                "[[45000000000000000014,54000000000016],[15000028,50]]",
                "[[45000000000000000014,54000000000016],[15000028,51]]",
            ),
            // Floats.
            (
                "[[1.5,2],[3,4]]",
                "[[5,6],[7,8]]",
                "[[21.5,25],[43,50]]",
                "[[21.5,25],[43,50.5]]",
            ),
        ];
        cases
            .into_iter()
            .map(|(a, b, right, wrong)| {
                (ProductCheck::from_text(a, b, 42).unwrap(), a, right, wrong)
            })
            .collect()
    }

    #[test]
    fn a_check_read_back_from_its_bytes_checks_as_the_original() {
        for (check, a, right, wrong) in checks() {
            let back = ProductCheck::from_bytes(&check.to_bytes()).unwrap();
            assert_eq!(back.to_bytes(), check.to_bytes(), "{a}");
            assert_eq!(
                back.check_text(right).is_ok(),
                check.check_text(right).is_ok(),
                "{a}"
            );
            assert!(
                back.check_text(wrong).is_err(),
                "{a}: a wrong product passes"
            );
            assert_eq!(back.product_may_fail(), check.product_may_fail());
            assert_eq!((back.rows(), back.cols()), (check.rows(), check.cols()));
        }
    }

    #[test]
    fn bytes_that_are_not_a_check_read_as_none() {
        for (check, ..) in checks() {
            let bytes = check.to_bytes();
            for cut in 0..bytes.len() {
                assert!(
                    ProductCheck::from_bytes(&bytes[..cut]).is_none(),
                    "cut at {cut}"
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(ProductCheck::from_bytes(&longer).is_none());
            let mut other = bytes.clone();
            other[0] = 9;
            assert!(ProductCheck::from_bytes(&other).is_none());
        }
        let mut huge = vec![FORMAT];
        huge.extend_from_slice(&[0xff; 64]);
        assert!(ProductCheck::from_bytes(&huge).is_none());
    }
}
