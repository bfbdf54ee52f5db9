//! Entries of byte results (the one `list<u8>` or `string` result of a byte
//! export, [`crate::payload`]): the bytes [`super::encode_entry`] writes for
//! such a value, built in the buffer the result was lifted into and read
//! back without a copy.

use super::{DecodeError, ENTRY_HEADER_LEN, ENTRY_MAGIC, EncodeError, length_prefix};
use crate::payload::ByteKind;

/// Where a byte result starts in its entry: after the header and the
/// result's length.
pub const BYTES_RESULT_OFFSET: usize = ENTRY_HEADER_LEN + 4;

/// `result` moved back within its own allocation to leave room for the
/// entry's header (the allocation grows in place where the allocator can,
/// as a large one does: no second buffer of the result's size), to be sealed
/// by [`seal_bytes_entry`].
pub fn bytes_entry_buffer(mut result: Vec<u8>) -> Vec<u8> {
    let len = result.len();
    result.reserve_exact(BYTES_RESULT_OFFSET);
    result.resize(len + BYTES_RESULT_OFFSET, 0);
    result.copy_within(..len, BYTES_RESULT_OFFSET);
    result
}

/// Writes the header of a byte result's entry into the room
/// [`bytes_entry_buffer`] left: the entry of a function with
/// `signature_hash`, written at `written_at_ms`.
pub fn seal_bytes_entry(
    buffer: &mut [u8],
    signature_hash: &[u8; 32],
    written_at_ms: u64,
) -> Result<(), EncodeError> {
    let len = length_prefix(buffer.len().saturating_sub(BYTES_RESULT_OFFSET))?;
    let header = [
        &ENTRY_MAGIC[..],
        signature_hash,
        &written_at_ms.to_le_bytes(),
        &len,
    ];
    let mut at = 0;
    for part in header {
        buffer[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    Ok(())
}

/// Checks that `entry` holds one byte result of `kind` (its length, and
/// UTF-8 for a string) written by a function with `signature_hash`; returns
/// when it was written. The result is `entry[BYTES_RESULT_OFFSET..]`.
pub fn check_bytes_entry(
    entry: &[u8],
    signature_hash: &[u8; 32],
    kind: ByteKind,
) -> Result<u64, DecodeError> {
    let rest = entry.strip_prefix(ENTRY_MAGIC).ok_or(DecodeError::Format)?;
    let rest = rest
        .strip_prefix(signature_hash.as_slice())
        .ok_or(DecodeError::Signature)?;
    let (written_at_ms, rest) = rest
        .split_first_chunk::<8>()
        .ok_or(DecodeError::Corrupt("truncated"))?;
    let (len, result) = rest
        .split_first_chunk::<4>()
        .ok_or(DecodeError::Corrupt("truncated"))?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > result.len() {
        return Err(DecodeError::Corrupt("truncated"));
    }
    if len < result.len() {
        return Err(DecodeError::Corrupt("trailing bytes"));
    }
    if kind == ByteKind::String && std::str::from_utf8(result).is_err() {
        return Err(DecodeError::Corrupt("invalid UTF-8"));
    }
    Ok(u64::from_le_bytes(*written_at_ms))
}

#[cfg(test)]
mod tests {
    use wasmtime::component::{Type, Val};

    use super::*;
    use crate::codec::encode_entry;

    const SIGNATURE: [u8; 32] = [7; 32];

    fn sealed(result: &[u8]) -> Vec<u8> {
        let mut entry = bytes_entry_buffer(result.to_vec());
        seal_bytes_entry(&mut entry, &SIGNATURE, 42).unwrap();
        entry
    }

    #[test]
    fn a_byte_entry_is_the_entry_of_its_value() {
        let text = "héllo";
        let string = encode_entry(&SIGNATURE, 42, &[Val::String(text.into())], &[Type::String]);
        assert_eq!(sealed(text.as_bytes()), string.unwrap());
        assert_eq!(sealed(b""), {
            let empty = encode_entry(
                &SIGNATURE,
                42,
                &[Val::String(String::new())],
                &[Type::String],
            );
            empty.unwrap()
        });
    }

    #[test]
    fn checking_reads_back_what_was_sealed_and_refuses_the_rest() {
        let entry = sealed(b"abc");
        assert_eq!(
            check_bytes_entry(&entry, &SIGNATURE, ByteKind::List).unwrap(),
            42
        );
        assert_eq!(&entry[BYTES_RESULT_OFFSET..], b"abc");
        let corrupt = |entry: &[u8], kind| check_bytes_entry(entry, &SIGNATURE, kind).unwrap_err();
        assert!(matches!(
            check_bytes_entry(&entry, &[8; 32], ByteKind::List),
            Err(DecodeError::Signature)
        ));
        assert!(matches!(
            corrupt(b"AHC", ByteKind::List),
            DecodeError::Format
        ));
        assert!(matches!(
            corrupt(&entry[..entry.len() - 1], ByteKind::List),
            DecodeError::Corrupt(_)
        ));
        assert!(matches!(
            corrupt(&[&entry[..], b"d"].concat(), ByteKind::List),
            DecodeError::Corrupt(_)
        ));
        assert!(matches!(
            corrupt(&entry[..ENTRY_HEADER_LEN + 2], ByteKind::List),
            DecodeError::Corrupt(_)
        ));
        let not_utf8 = sealed(&[0xff, 0xfe]);
        assert!(check_bytes_entry(&not_utf8, &SIGNATURE, ByteKind::List).is_ok());
        assert!(matches!(
            corrupt(&not_utf8, ByteKind::String),
            DecodeError::Corrupt(_)
        ));
    }
}
