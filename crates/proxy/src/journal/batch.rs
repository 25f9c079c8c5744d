//! How one append's entries are laid out in one journal row.
//!
//! Appending a batch is then one insert, and forgetting it one delete, whatever the number
//! of events in it: at 90,000 entries a second, a row per entry spent more time inserting
//! and deleting rows than writing the events. The payloads are kept exactly as SiPass sent
//! them.
//!
//! Layout: a format byte, then per entry its SiPass push sequence (u64), its type (u8), the
//! length of its payload (u32), all little-endian, and the payload.

use super::NewEntry;

/// The only layout so far; a row in another one is refused, not misread.
const FORMAT: u8 = 1;

/// Bytes before each payload.
const HEADER: usize = 8 + 1 + 4;

/// One entry read back from a batch.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub source_seq: u64,
    pub entry_type: u8,
    pub payload: &'a [u8],
}

/// Why a stored batch cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("it is in layout {0}, which this proxy does not know (a newer proxy wrote it?)")]
    UnknownFormat(u8),
    #[error("it is empty")]
    Empty,
    #[error("it ends in the middle of an entry, {0} bytes in")]
    Truncated(usize),
}

/// The batch of `entries`, in order.
pub fn encode<'a>(entries: impl IntoIterator<Item = &'a NewEntry>) -> Vec<u8> {
    let entries: Vec<&NewEntry> = entries.into_iter().collect();
    let size = 1 + entries
        .iter()
        .map(|e| HEADER + e.payload.len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.push(FORMAT);
    for entry in entries {
        out.extend_from_slice(&entry.source_seq.to_le_bytes());
        out.push(entry.entry_type as u8);
        out.extend_from_slice(&(entry.payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&entry.payload);
    }
    out
}

/// The entries of a stored batch, in order.
pub fn decode(blob: &[u8]) -> Result<Vec<Decoded<'_>>, BatchError> {
    let (&format, mut rest) = blob.split_first().ok_or(BatchError::Empty)?;
    if format != FORMAT {
        return Err(BatchError::UnknownFormat(format));
    }
    let mut entries = Vec::new();
    while !rest.is_empty() {
        let offset = blob.len() - rest.len();
        let truncated = || BatchError::Truncated(offset);
        let (header, body) = rest.split_at_checked(HEADER).ok_or_else(truncated)?;
        let (seq, header) = header.split_at(8);
        let (entry_type, len) = header.split_at(1);
        let source_seq = u64::from_le_bytes(seq.try_into().map_err(|_| truncated())?);
        let len = u32::from_le_bytes(len.try_into().map_err(|_| truncated())?) as usize;
        let (payload, after) = body.split_at_checked(len).ok_or_else(truncated)?;
        entries.push(Decoded {
            source_seq,
            entry_type: entry_type[0],
            payload,
        });
        rest = after;
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::EntryType;

    fn entry(source_seq: u64, entry_type: EntryType, payload: &str) -> NewEntry {
        NewEntry {
            source_seq,
            entry_type,
            payload: payload.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_batch_reads_back_exactly_as_written() {
        let entries = [
            entry(7, EntryType::Event, "{\"Id\":\"1\"}"),
            entry(9, EntryType::Alarm, ""),
            entry(u64::MAX, EntryType::Event, "ü"),
        ];
        let blob = encode(&entries);
        let decoded = decode(&blob).unwrap();
        assert_eq!(decoded.len(), 3);
        for (d, e) in decoded.iter().zip(&entries) {
            assert_eq!(d.source_seq, e.source_seq);
            assert_eq!(d.entry_type, e.entry_type as u8);
            assert_eq!(d.payload, e.payload.as_slice());
        }
    }

    #[test]
    fn damaged_batches_are_refused_with_the_reason() {
        let blob = encode(&[entry(1, EntryType::Event, "abc")]);
        assert_eq!(decode(&[]), Err(BatchError::Empty));
        assert_eq!(decode(&[2]), Err(BatchError::UnknownFormat(2)));
        assert_eq!(
            decode(&blob[..blob.len() - 1]),
            Err(BatchError::Truncated(1))
        );
        assert_eq!(decode(&blob[..5]), Err(BatchError::Truncated(1)));
        assert_eq!(decode(&[FORMAT]).unwrap(), vec![]);
    }
}
