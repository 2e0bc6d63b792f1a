//! The [`Encode`] and [`Decode`] traits, and their implementations for
//! primitives and strings.
//!
//! A message type implements both by hand, field by field, using
//! [`WriteExt`] and [`Reader`]. The traits add the two whole-buffer
//! conveniences every caller wants: [`Encode::to_bytes`] and
//! [`Decode::from_bytes`], the latter insisting that the message uses every
//! byte of the buffer.

use crate::error::DecodeError;
use crate::reader::Reader;
use crate::write::WriteExt;

/// A value that can be written in Convene's wire format.
pub trait Encode {
    /// Appends this value's encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Encodes this value into a new buffer.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A value that can be read back from Convene's wire format.
///
/// The lifetime `'a` is the input buffer's, so a decoded message may borrow
/// its strings and byte fields instead of copying them.
pub trait Decode<'a>: Sized {
    /// Reads one value from the front of `r`.
    ///
    /// Implementations must not panic on any input and must check lengths
    /// with [`Reader::string_max`] / [`Reader::count`] before allocating.
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError>;

    /// Decodes a value that must fill `buf` exactly (one datagram, one
    /// message): leftover bytes are [`DecodeError::TrailingBytes`].
    fn from_bytes(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let value = Self::decode(&mut r)?;
        r.finish()?;
        Ok(value)
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }
}

/// Implements `Encode` and `Decode` for an integer via the matching
/// `put_*` / reader method pair.
macro_rules! integer {
    ($ty:ty, $put:ident, $get:ident) => {
        impl Encode for $ty {
            fn encode(&self, out: &mut Vec<u8>) {
                out.$put(*self);
            }
        }

        impl Decode<'_> for $ty {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.$get()
            }
        }
    };
}

integer!(u8, put_u8, u8);
integer!(u16, put_u16, u16);
integer!(u32, put_u32, u32);
integer!(u64, put_u64, u64);
integer!(i32, put_i32, i32);

/// A `bool` is one byte, `0` or `1`; any other byte is an error, so a
/// corrupted flag is caught rather than read as `true`.
impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(u8::from(*self));
    }
}

impl Decode<'_> for bool {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::UnknownTag { what: "bool", tag }),
        }
    }
}

impl Encode for str {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_string(self);
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_string(self);
    }
}

/// Borrows the string from the input buffer; no copy.
impl<'a> Decode<'a> for &'a str {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        r.string()
    }
}

impl Decode<'_> for String {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.string().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_bytes_rejects_trailing_bytes() {
        assert_eq!(u16::from_bytes(&[0, 1]), Ok(1));
        assert_eq!(
            u16::from_bytes(&[0, 1, 2]),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    #[test]
    fn bool_is_strict() {
        assert_eq!(bool::from_bytes(&[0]), Ok(false));
        assert_eq!(bool::from_bytes(&[1]), Ok(true));
        assert_eq!(
            bool::from_bytes(&[2]),
            Err(DecodeError::UnknownTag {
                what: "bool",
                tag: 2
            })
        );
    }

    #[test]
    fn strings_round_trip_borrowed_and_owned() {
        let bytes = "héllo".to_bytes();
        assert_eq!(<&str>::from_bytes(&bytes), Ok("héllo"));
        assert_eq!(String::from_bytes(&bytes), Ok("héllo".to_owned()));
        assert_eq!((&"héllo").to_bytes(), bytes);
    }
}
