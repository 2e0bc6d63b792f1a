//! Property tests for the wire encoding.
//!
//! Two families:
//!
//! * **round trips**: whatever the writer puts, the reader gets back, with
//!   nothing left over;
//! * **robustness**: a [`Reader`] driven by an arbitrary sequence of calls
//!   over arbitrary bytes never panics, never reads past the end, and leaves
//!   the cursor untouched whenever a read fails.

use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};
use proptest::prelude::*;

/// One value of any primitive the wire format knows.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    I32(i32),
    Bool(bool),
    Str(String),
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u8>().prop_map(Value::U8),
        any::<u16>().prop_map(Value::U16),
        any::<u32>().prop_map(Value::U32),
        any::<u64>().prop_map(Value::U64),
        any::<i32>().prop_map(Value::I32),
        any::<bool>().prop_map(Value::Bool),
        ".{0,40}".prop_map(Value::Str),
    ]
}

fn write(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.put_u8(*x),
        Value::U16(x) => out.put_u16(*x),
        Value::U32(x) => out.put_u32(*x),
        Value::U64(x) => out.put_u64(*x),
        Value::I32(x) => out.put_i32(*x),
        Value::Bool(x) => x.encode(out),
        Value::Str(x) => out.put_string(x),
    }
}

/// Reads back a value of the same kind as `like`.
fn read(r: &mut Reader<'_>, like: &Value) -> Result<Value, DecodeError> {
    Ok(match like {
        Value::U8(_) => Value::U8(r.u8()?),
        Value::U16(_) => Value::U16(r.u16()?),
        Value::U32(_) => Value::U32(r.u32()?),
        Value::U64(_) => Value::U64(r.u64()?),
        Value::I32(_) => Value::I32(r.i32()?),
        Value::Bool(_) => Value::Bool(bool::decode(r)?),
        Value::Str(_) => Value::Str(r.string()?.to_owned()),
    })
}

/// One call on a [`Reader`], with arbitrary arguments.
#[derive(Debug, Clone)]
enum Op {
    U8,
    U16,
    U32,
    U64,
    I32,
    Bytes(usize),
    String,
    StringMax(usize),
    Count(usize),
    Rest,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::U8),
        Just(Op::U16),
        Just(Op::U32),
        Just(Op::U64),
        Just(Op::I32),
        prop_oneof![0usize..64, any::<usize>()].prop_map(Op::Bytes),
        Just(Op::String),
        prop_oneof![0usize..64, any::<usize>()].prop_map(Op::StringMax),
        prop_oneof![0usize..16, any::<usize>()].prop_map(Op::Count),
        Just(Op::Rest),
    ]
}

/// Applies `op`, returning how many bytes it claims to have consumed.
fn apply(r: &mut Reader<'_>, op: &Op) -> Result<usize, DecodeError> {
    Ok(match op {
        Op::U8 => r.u8().map(|_| 1)?,
        Op::U16 => r.u16().map(|_| 2)?,
        Op::U32 => r.u32().map(|_| 4)?,
        Op::U64 => r.u64().map(|_| 8)?,
        Op::I32 => r.i32().map(|_| 4)?,
        Op::Bytes(n) => r.bytes(*n)?.len(),
        Op::String => 4 + r.string()?.len(),
        Op::StringMax(max) => {
            let s = r.string_max(*max)?;
            assert!(s.len() <= *max);
            4 + s.len()
        }
        Op::Count(min) => {
            let count = r.count(*min)?;
            // The promise `count` makes: the elements can fit.
            assert!(count.saturating_mul((*min).max(1)) <= r.remaining());
            4
        }
        Op::Rest => r.rest().len(),
    })
}

proptest! {
    #[test]
    fn primitives_round_trip(values in prop::collection::vec(value(), 0..32)) {
        let mut out = Vec::new();
        for v in &values {
            write(&mut out, v);
        }
        let mut r = Reader::new(&out);
        for v in &values {
            prop_assert_eq!(&read(&mut r, v)?, v);
        }
        prop_assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn strings_round_trip(s in any::<String>()) {
        let bytes = s.to_bytes();
        prop_assert_eq!(bytes.len(), 4 + s.len());
        prop_assert_eq!(<&str>::from_bytes(&bytes)?, s.as_str());
        let mut r = Reader::new(&bytes);
        prop_assert_eq!(r.string_max(s.len())?, s.as_str());
        prop_assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn integers_round_trip_through_traits(a in any::<u64>(), b in any::<i32>(), c in any::<u16>()) {
        prop_assert_eq!(u64::from_bytes(&a.to_bytes()), Ok(a));
        prop_assert_eq!(i32::from_bytes(&b.to_bytes()), Ok(b));
        prop_assert_eq!(u16::from_bytes(&c.to_bytes()), Ok(c));
    }

    #[test]
    fn every_strict_prefix_is_truncated(values in prop::collection::vec(value(), 1..8)) {
        let mut out = Vec::new();
        for v in &values {
            write(&mut out, v);
        }
        for cut in 0..out.len() {
            let mut r = Reader::new(&out[..cut]);
            let failed = values.iter().any(|v| read(&mut r, v).is_err());
            prop_assert!(failed, "prefix of {} bytes decoded fully", cut);
        }
    }

    #[test]
    fn reader_never_panics(
        buf in prop::collection::vec(any::<u8>(), 0..128),
        ops in prop::collection::vec(op(), 0..24),
    ) {
        let mut r = Reader::new(&buf);
        for op in &ops {
            let before = r.remaining();
            let position = r.position();
            match apply(&mut r, op) {
                Ok(n) => {
                    prop_assert_eq!(r.remaining(), before - n);
                    prop_assert_eq!(r.position(), position + n);
                }
                Err(_) => {
                    // A failed read consumes nothing.
                    prop_assert_eq!(r.remaining(), before);
                    prop_assert_eq!(r.position(), position);
                }
            }
            prop_assert_eq!(r.position() + r.remaining(), buf.len());
        }
        let left = r.remaining();
        match r.finish() {
            Ok(()) => prop_assert_eq!(left, 0),
            Err(e) => prop_assert_eq!(e, DecodeError::TrailingBytes(left)),
        }
    }
}
