//! [`WriteExt`]: appending big-endian fields to an outgoing buffer.
//!
//! Encoding is the trusted direction (we build the values ourselves), so the
//! writer is infallible and simply grows a `Vec<u8>`. Each `put_*` method is
//! the exact mirror of a [`Reader`](crate::Reader) method; the property tests
//! in `tests/properties.rs` hold the two to that.

/// Big-endian `put_*` methods for an output buffer.
///
/// ```
/// use convene_wire::WriteExt;
///
/// let mut out = Vec::new();
/// out.put_u16(0x0102);
/// out.put_string("ok");
/// assert_eq!(out, [0x01, 0x02, 0, 0, 0, 2, b'o', b'k']);
/// ```
pub trait WriteExt {
    /// Appends one byte.
    fn put_u8(&mut self, v: u8);

    /// Appends a big-endian `u16`.
    fn put_u16(&mut self, v: u16);

    /// Appends a big-endian `u32`.
    fn put_u32(&mut self, v: u32);

    /// Appends a big-endian `u64`.
    fn put_u64(&mut self, v: u64);

    /// Appends a big-endian two's-complement `i32`.
    fn put_i32(&mut self, v: i32);

    /// Appends raw bytes with no length prefix (the reader must know the
    /// length from elsewhere, or the bytes must be the last field).
    fn put_bytes(&mut self, v: &[u8]);

    /// Appends a string as a `u32` byte length followed by its UTF-8 bytes.
    ///
    /// # Panics
    ///
    /// If the string is 4 GiB or longer, which no datagram can carry; that
    /// is a bug in the caller, not a property of received input.
    fn put_string(&mut self, v: &str);
}

impl WriteExt for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }

    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_bytes(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }

    fn put_string(&mut self, v: &str) {
        let len = u32::try_from(v.len()).expect("string longer than u32::MAX bytes");
        self.put_u32(len);
        self.put_bytes(v.as_bytes());
    }
}
