//! The RFC 9420 §2.1.2 wire encoding: variable-length vectors on top of `tls_codec`.
//!
//! This module owns the two vector types every wire struct is built from, [`VarBytes`]
//! (`opaque data<V>`) and [`VarVec`] (`T items<V>`), and the varint length header. It keeps
//! these invariants, which `tls_codec`'s own `VLBytes` and `Vec<T>` do not all keep:
//!
//! - the length header is 1, 2 or 4 bytes and in its shortest form; the 8-byte form is refused;
//! - a vector's elements are decoded from exactly the bytes its header claims: an element that
//!   runs past the end of its vector is an error, not silently accepted;
//! - nothing is allocated before the bytes it would hold have been seen to exist, so a header
//!   claiming 1 GiB inside a 100-byte buffer is an error, not an allocation;
//! - decoding never panics (no debug assertions on input).
//!
//! Structs are encoded with `tls_codec`'s derives (`TlsSerialize`, `TlsDeserializeBytes`,
//! `TlsSize`) over these types.

use std::io::Write;
use std::ops::{Deref, DerefMut};

use tls_codec::{DeserializeBytes, Error as TlsError, Serialize, Size};

/// Largest vector length RFC 9420 admits: a 30-bit value (the 4-byte header).
pub const MAX_VECTOR_LEN: usize = (1 << 30) - 1;

/// Number of header bytes for a vector of `len` bytes, or an error when `len` exceeds 30 bits.
pub fn varint_len(len: usize) -> Result<usize, TlsError> {
    match len {
        0..=0x3f => Ok(1),
        0x40..=0x3fff => Ok(2),
        0x4000..=MAX_VECTOR_LEN => Ok(4),
        _ => Err(TlsError::InvalidVectorLength),
    }
}

/// Appends the §2.1.2 varint header for a vector of `len` bytes.
pub fn write_varint(out: &mut Vec<u8>, len: usize) -> Result<(), TlsError> {
    let (header, n) = varint_header(len)?;
    out.extend_from_slice(&header[..n]);
    Ok(())
}

/// The §2.1.2 varint header for a vector of `len` bytes, in a stack buffer: the header bytes
/// are `buf[..n]` for the returned `(buf, n)`.
// The casts cannot truncate: `varint_len` has bounded `len` to the width chosen.
#[allow(clippy::cast_possible_truncation)]
fn varint_header(len: usize) -> Result<([u8; 4], usize), TlsError> {
    let n = varint_len(len)?;
    let buf = match n {
        1 => [len as u8, 0, 0, 0],
        2 => {
            let [a, b] = (0x4000 | len as u16).to_be_bytes();
            [a, b, 0, 0]
        }
        _ => (0x8000_0000 | len as u32).to_be_bytes(),
    };
    Ok((buf, n))
}

fn write_varint_io<W: Write>(w: &mut W, len: usize) -> Result<usize, TlsError> {
    let (header, n) = varint_header(len)?;
    w.write_all(&header[..n])
        .map_err(|e| TlsError::EncodingError(e.to_string()))?;
    Ok(n)
}

/// Reads a §2.1.2 varint header; returns the length and the bytes after the header.
///
/// Refuses the 8-byte form and any non-minimal encoding.
pub fn read_varint(bytes: &[u8]) -> Result<(usize, &[u8]), TlsError> {
    let first = *bytes.first().ok_or(TlsError::EndOfStream)?;
    let header_len = match first >> 6 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => return Err(TlsError::InvalidVectorLength),
    };
    let header = bytes.get(..header_len).ok_or(TlsError::EndOfStream)?;
    let mut len = usize::from(first & 0x3f);
    for b in &header[1..] {
        len = (len << 8) | usize::from(*b);
    }
    if varint_len(len)? != header_len {
        return Err(TlsError::InvalidVectorLength);
    }
    Ok((len, &bytes[header_len..]))
}

/// Splits a vector's body off the front of `bytes`: its varint header is read and exactly that
/// many bytes are returned, with the rest.
pub fn read_vector_body(bytes: &[u8]) -> Result<(&[u8], &[u8]), TlsError> {
    let (len, rest) = read_varint(bytes)?;
    if rest.len() < len {
        return Err(TlsError::EndOfStream);
    }
    Ok(rest.split_at(len))
}

/// `opaque data<V>`: a byte string with a §2.1.2 varint length header.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarBytes(pub Vec<u8>);

impl VarBytes {
    /// Wraps bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
    /// The bytes, by value.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl std::fmt::Debug for VarBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Deref for VarBytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for VarBytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl From<Vec<u8>> for VarBytes {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for VarBytes {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl AsRef<[u8]> for VarBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Size for VarBytes {
    fn tls_serialized_len(&self) -> usize {
        // A length beyond 30 bits fails in `tls_serialize`; the size here is only a hint.
        varint_len(self.0.len()).unwrap_or(4) + self.0.len()
    }
}

impl Serialize for VarBytes {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, TlsError> {
        let n = write_varint_io(writer, self.0.len())?;
        writer
            .write_all(&self.0)
            .map_err(|e| TlsError::EncodingError(e.to_string()))?;
        Ok(n + self.0.len())
    }
}

impl DeserializeBytes for VarBytes {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), TlsError> {
        let (body, rest) = read_vector_body(bytes)?;
        Ok((Self(body.to_vec()), rest))
    }
}

/// `T items<V>`: a vector of encoded items with a §2.1.2 varint length header (in bytes).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct VarVec<T>(pub Vec<T>);

impl<T> Default for VarVec<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> VarVec<T> {
    /// Wraps items.
    pub fn new(items: Vec<T>) -> Self {
        Self(items)
    }
    /// The items, by value.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T> Deref for VarVec<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> DerefMut for VarVec<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T> From<Vec<T>> for VarVec<T> {
    fn from(v: Vec<T>) -> Self {
        Self(v)
    }
}

impl<T> FromIterator<T> for VarVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<'a, T> IntoIterator for &'a VarVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: Size> Size for VarVec<T> {
    fn tls_serialized_len(&self) -> usize {
        let body: usize = self.0.iter().map(Size::tls_serialized_len).sum();
        varint_len(body).unwrap_or(4) + body
    }
}

impl<T: Serialize + Size> Serialize for VarVec<T> {
    fn tls_serialize<W: Write>(&self, writer: &mut W) -> Result<usize, TlsError> {
        let body: usize = self.0.iter().map(Size::tls_serialized_len).sum();
        let mut written = write_varint_io(writer, body)?;
        for item in &self.0 {
            written += item.tls_serialize(writer)?;
        }
        Ok(written)
    }
}

impl<T: DeserializeBytes> DeserializeBytes for VarVec<T> {
    fn tls_deserialize_bytes(bytes: &[u8]) -> Result<(Self, &[u8]), TlsError> {
        let (mut body, rest) = read_vector_body(bytes)?;
        // No capacity is reserved from the header: each item is pushed only once decoded
        // from bytes that exist.
        let mut items = Vec::new();
        while !body.is_empty() {
            let (item, after) = T::tls_deserialize_bytes(body)?;
            if after.len() >= body.len() {
                // An item that consumes nothing would loop forever.
                return Err(TlsError::DecodingError("zero-length vector item".into()));
            }
            items.push(item);
            body = after;
        }
        Ok((Self(items), rest))
    }
}

/// Encodes any `tls_codec` value to a fresh byte vector.
pub fn encode<T: Serialize + Size>(value: &T) -> Result<Vec<u8>, TlsError> {
    let mut out = Vec::with_capacity(value.tls_serialized_len());
    value.tls_serialize(&mut out)?;
    Ok(out)
}

/// Decodes a top-level value that must use every byte of `bytes`; trailing bytes are an error.
pub fn decode_exact<T: DeserializeBytes>(bytes: &[u8]) -> Result<T, TlsError> {
    let (value, rest) = T::tls_deserialize_bytes(bytes)?;
    if !rest.is_empty() {
        return Err(TlsError::TrailingData);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_shortest_form() {
        for (len, header) in [
            (0usize, vec![0x00]),
            (63, vec![0x3f]),
            (64, vec![0x40, 0x40]),
            (16383, vec![0x7f, 0xff]),
            (16384, vec![0x80, 0x00, 0x40, 0x00]),
            (MAX_VECTOR_LEN, vec![0xbf, 0xff, 0xff, 0xff]),
        ] {
            let mut out = Vec::new();
            write_varint(&mut out, len).unwrap();
            assert_eq!(out, header, "len {len}");
            assert_eq!(read_varint(&header).unwrap().0, len);
        }
        assert!(write_varint(&mut Vec::new(), MAX_VECTOR_LEN + 1).is_err());
    }

    #[test]
    fn non_minimal_and_eight_byte_headers_are_refused() {
        assert!(read_varint(&[0x40, 0x01]).is_err());
        assert!(read_varint(&[0x80, 0x00, 0x00, 0x01]).is_err());
        assert!(read_varint(&[0xc0, 0, 0, 0, 0, 0, 0, 1]).is_err());
        assert!(read_varint(&[]).is_err());
        assert!(read_varint(&[0x40]).is_err());
    }

    #[test]
    fn huge_claim_in_small_buffer_is_an_error() {
        let mut buf = vec![0xbf, 0xff, 0xff, 0xff];
        buf.extend_from_slice(&[0u8; 96]);
        assert!(VarBytes::tls_deserialize_bytes(&buf).is_err());
        assert!(VarVec::<VarBytes>::tls_deserialize_bytes(&buf).is_err());
    }

    #[test]
    fn item_overrunning_its_vector_is_refused() {
        // Vector of 2 bytes holding an item that claims 3 bytes.
        let buf = [0x02, 0x03, 0xaa, 0xbb, 0xcc];
        assert!(VarVec::<VarBytes>::tls_deserialize_bytes(&buf).is_err());
    }

    #[test]
    fn nested_round_trip() {
        let v: VarVec<VarBytes> = vec![VarBytes(vec![1, 2]), VarBytes(vec![0; 100])].into();
        let enc = encode(&v).unwrap();
        assert_eq!(enc.len(), v.tls_serialized_len());
        let dec: VarVec<VarBytes> = decode_exact(&enc).unwrap();
        assert_eq!(dec, v);
        let mut trailing = enc.clone();
        trailing.push(0);
        assert!(decode_exact::<VarVec<VarBytes>>(&trailing).is_err());
    }
}
