//! [`Reader`]: a bounds-checked cursor over a received datagram.
//!
//! Every read checks that the bytes it needs are present and returns
//! [`DecodeError::Truncated`] otherwise; nothing here indexes a slice in a way
//! that could panic. Lengths and counts read from the input are checked
//! against the bytes that remain *before* they are used, so callers can
//! allocate with the value they get back.
//!
//! A failed read leaves the cursor where it was. That makes errors easy to
//! reason about (the cursor always sits on a field boundary) and lets a
//! decoder try a read and fall back without re-parsing from the start.

use crate::error::DecodeError;

/// A cursor over a byte slice that reads big-endian fields front to back.
///
/// Borrowed results ([`bytes`](Reader::bytes), [`string`](Reader::string),
/// [`rest`](Reader::rest)) point into the original buffer with its lifetime
/// `'a`, so decoding a message does not copy its strings.
///
/// ```
/// use convene_wire::{DecodeError, Reader};
///
/// let mut r = Reader::new(&[0x01, 0x02, 0x03]);
/// assert_eq!(r.u16(), Ok(0x0102));
/// assert_eq!(
///     r.u16(),
///     Err(DecodeError::Truncated { needed: 2, remaining: 1 })
/// );
/// // The failed read consumed nothing.
/// assert_eq!(r.u8(), Ok(0x03));
/// assert_eq!(r.finish(), Ok(()));
/// ```
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    /// The bytes not yet read.
    rest: &'a [u8],
    /// How many bytes have been read so far.
    consumed: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the front of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            rest: buf,
            consumed: 0,
        }
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        self.array::<1>().map(|[b]| b)
    }

    /// Reads a big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_be_bytes)
    }

    /// Reads a big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    /// Reads a big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_be_bytes)
    }

    /// Reads a big-endian two's-complement `i32`.
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_be_bytes)
    }

    /// Reads exactly `n` bytes, borrowed from the input.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or(DecodeError::Truncated {
                needed: n,
                remaining: self.rest.len(),
            })?;
        self.advance(head.len(), tail);
        Ok(head)
    }

    /// Reads a string: a `u32` byte length, then that many bytes of UTF-8.
    ///
    /// The length is bounded only by the input itself. For fields where the
    /// protocol has a natural limit (a user name, a room id), prefer
    /// [`string_max`](Reader::string_max) so an oversized value is rejected
    /// by name rather than accepted.
    pub fn string(&mut self) -> Result<&'a str, DecodeError> {
        self.string_max(usize::MAX)
    }

    /// Reads a string like [`string`](Reader::string), but rejects it with
    /// [`DecodeError::TooLong`] if its declared length exceeds `max` bytes.
    ///
    /// The length is checked before the bytes, so a value that is both too
    /// long and truncated reports `TooLong`.
    pub fn string_max(&mut self, max: usize) -> Result<&'a str, DecodeError> {
        let mut r = self.clone();
        let len = len_from_u32(r.u32()?);
        if len > max {
            return Err(DecodeError::TooLong {
                what: "string",
                len,
                max,
            });
        }
        let bytes = r.bytes(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        *self = r;
        Ok(s)
    }

    /// Reads a `u32` element count for a sequence whose every element takes
    /// at least `min_item_size` bytes on the wire.
    ///
    /// The count is rejected with [`DecodeError::Truncated`] if
    /// `count * min_item_size` exceeds the bytes that remain, so after this
    /// returns `Ok(count)` it is safe to `Vec::with_capacity(count)`: the
    /// input itself bounds the allocation.
    ///
    /// A `min_item_size` of 0 is treated as 1, so a hostile count cannot make
    /// a decoder loop four billion times over zero-sized elements.
    ///
    /// ```
    /// use convene_wire::{DecodeError, Reader};
    ///
    /// // Claims 1,000,000 u32 elements but carries 4 bytes.
    /// let mut r = Reader::new(&[0x00, 0x0f, 0x42, 0x40, 1, 2, 3, 4]);
    /// assert!(matches!(r.count(4), Err(DecodeError::Truncated { .. })));
    /// ```
    pub fn count(&mut self, min_item_size: usize) -> Result<usize, DecodeError> {
        let mut r = self.clone();
        let count = len_from_u32(r.u32()?);
        let remaining = r.remaining();
        let needed = count.saturating_mul(min_item_size.max(1));
        if needed > remaining {
            return Err(DecodeError::Truncated { needed, remaining });
        }
        *self = r;
        Ok(count)
    }

    /// How many bytes are left to read.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// How many bytes have been read so far (the offset of the next read).
    pub fn position(&self) -> usize {
        self.consumed
    }

    /// Takes every byte that is left, leaving the reader empty.
    ///
    /// For a trailing field whose length is "the rest of the datagram", such
    /// as an RPC payload.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.rest;
        self.advance(rest.len(), &[]);
        rest
    }

    /// Ends decoding, failing with [`DecodeError::TrailingBytes`] if any
    /// input was left unread.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    /// Reads a fixed number of bytes into an array, for the integer readers.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(DecodeError::Truncated {
                needed: N,
                remaining: self.rest.len(),
            })?;
        self.advance(N, tail);
        Ok(*head)
    }

    /// Moves the cursor past `n` bytes, `tail` being what is left after them.
    fn advance(&mut self, n: usize, tail: &'a [u8]) {
        self.rest = tail;
        self.consumed += n;
    }
}

/// Converts a length read from the wire into a `usize`.
///
/// Infallible on 32- and 64-bit targets; elsewhere a length that does not fit
/// saturates, and the bounds checks that follow reject it.
fn len_from_u32(len: u32) -> usize {
    usize::try_from(len).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian() {
        let buf = [
            0x01, // u8
            0x02, 0x03, // u16
            0x04, 0x05, 0x06, 0x07, // u32
            0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, // u64
            0xff, 0xff, 0xff, 0xfe, // i32
        ];
        let mut r = Reader::new(&buf);
        assert_eq!(r.u8(), Ok(0x01));
        assert_eq!(r.u16(), Ok(0x0203));
        assert_eq!(r.u32(), Ok(0x0405_0607));
        assert_eq!(r.u64(), Ok(0x0809_0a0b_0c0d_0e0f));
        assert_eq!(r.i32(), Ok(-2));
        assert_eq!(r.position(), buf.len());
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn truncated_read_consumes_nothing() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(
            r.u32(),
            Err(DecodeError::Truncated {
                needed: 4,
                remaining: 3
            })
        );
        assert_eq!(r.remaining(), 3);
        assert_eq!(r.bytes(3), Ok(&[1, 2, 3][..]));
        assert_eq!(
            r.u8(),
            Err(DecodeError::Truncated {
                needed: 1,
                remaining: 0
            })
        );
    }

    #[test]
    fn string_reads_length_then_utf8() {
        let mut r = Reader::new(&[0, 0, 0, 2, b'h', b'i', 0xaa]);
        assert_eq!(r.string(), Ok("hi"));
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn string_with_huge_length_is_truncated_not_allocated() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, b'a']);
        assert_eq!(
            r.string(),
            Err(DecodeError::Truncated {
                needed: 0xffff_ffff,
                remaining: 1
            })
        );
        // The length prefix was not consumed either.
        assert_eq!(r.remaining(), 5);
    }

    #[test]
    fn string_max_rejects_long_strings_before_reading_them() {
        let mut r = Reader::new(&[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']);
        assert_eq!(
            r.string_max(4),
            Err(DecodeError::TooLong {
                what: "string",
                len: 5,
                max: 4
            })
        );
        assert_eq!(r.string_max(5), Ok("hello"));
    }

    #[test]
    fn string_rejects_invalid_utf8() {
        let mut r = Reader::new(&[0, 0, 0, 2, 0xc3, 0x28]);
        assert_eq!(r.string(), Err(DecodeError::InvalidUtf8));
        assert_eq!(r.remaining(), 6);
    }

    #[test]
    fn count_is_bounded_by_remaining_bytes() {
        // 3 elements of at least 2 bytes need 6 bytes; 6 are there.
        let mut r = Reader::new(&[0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
        assert_eq!(r.clone().count(2), Ok(3));
        // With at least 3 bytes each they would need 9.
        assert_eq!(
            r.count(3),
            Err(DecodeError::Truncated {
                needed: 9,
                remaining: 6
            })
        );
        assert_eq!(r.remaining(), 10);
    }

    #[test]
    fn count_treats_zero_sized_items_as_one_byte() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(r.count(0), Err(DecodeError::Truncated { .. })));
        let mut r = Reader::new(&[0, 0, 0, 0]);
        assert_eq!(r.count(0), Ok(0));
    }

    #[test]
    fn count_overflow_is_an_error() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            r.count(usize::MAX),
            Err(DecodeError::Truncated {
                needed: usize::MAX,
                remaining: 0
            })
        );
    }

    #[test]
    fn rest_takes_everything() {
        let mut r = Reader::new(&[9, 8, 7]);
        assert_eq!(r.u8(), Ok(9));
        assert_eq!(r.rest(), &[8, 7]);
        assert_eq!(r.rest(), &[] as &[u8]);
        assert_eq!(r.position(), 3);
        assert_eq!(r.finish(), Ok(()));
    }
}
