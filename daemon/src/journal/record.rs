//! Byte layout: the file header and the record frame (see the module doc of
//! [`crate::journal`] for the table). Pure functions, no I/O.

use super::MAX_RECORD_LEN;

/// First six bytes of every journal file.
pub const MAGIC: [u8; 6] = *b"HALLQJ";

/// On-disk format version written by this build (u16 LE after the magic).
pub const FORMAT_VERSION: u16 = 1;

/// Length of the file header: magic + version.
pub const FILE_HEADER_LEN: usize = 8;

/// Length of a record's header: payload length + CRC.
pub const RECORD_HEADER_LEN: usize = 8;

/// The header every new journal file starts with.
pub(crate) fn file_header() -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..6].copy_from_slice(&MAGIC);
    h[6..].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// What a file header says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FileHeader {
    /// Our magic and our version.
    Valid,
    /// Not a hallq journal file (or a header that was never fully written).
    WrongMagic,
    /// Our magic, another version.
    Version(u16),
}

/// Classifies the first [`FILE_HEADER_LEN`] bytes of a file.
pub(crate) fn check_file_header(h: &[u8; FILE_HEADER_LEN]) -> FileHeader {
    if h[..6] != MAGIC {
        return FileHeader::WrongMagic;
    }
    match u16::from_le_bytes([h[6], h[7]]) {
        FORMAT_VERSION => FileHeader::Valid,
        other => FileHeader::Version(other),
    }
}

/// The record checksum: CRC-32 over the four length bytes, then the payload.
/// Covering the length means a flipped length bit fails the check instead of
/// silently reframing everything after it.
pub(crate) fn checksum(len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len_bytes);
    h.update(payload);
    h.finalize()
}

/// Appends one framed record to `buf`. The caller has checked
/// `payload.len() <= MAX_RECORD_LEN`, which also makes the `u32` cast lossless.
pub(crate) fn encode(buf: &mut Vec<u8>, payload: &[u8]) {
    debug_assert!(payload.len() <= MAX_RECORD_LEN);
    let len_bytes = (payload.len() as u32).to_le_bytes();
    buf.extend_from_slice(&len_bytes);
    buf.extend_from_slice(&checksum(len_bytes, payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

/// A record header as read from disk, not yet trusted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameHeader {
    pub(crate) len_bytes: [u8; 4],
    pub(crate) crc: u32,
}

impl FrameHeader {
    pub(crate) fn parse(b: &[u8; RECORD_HEADER_LEN]) -> Self {
        FrameHeader {
            len_bytes: [b[0], b[1], b[2], b[3]],
            crc: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The declared payload length (untrusted until the CRC matches).
    pub(crate) fn len(&self) -> u64 {
        u64::from(u32::from_le_bytes(self.len_bytes))
    }
}

/// True if `bytes` begins with a complete record whose length is within the
/// limit and whose checksum matches. Used to look past a defect for valid data.
pub(crate) fn valid_frame_at(bytes: &[u8]) -> bool {
    let Some(head) = bytes.first_chunk::<RECORD_HEADER_LEN>() else {
        return false;
    };
    let h = FrameHeader::parse(head);
    // Length is checked before it is used to index, so garbage cannot panic.
    let len = h.len() as usize;
    if len > MAX_RECORD_LEN || len > bytes.len() - RECORD_HEADER_LEN {
        return false;
    }
    let payload = &bytes[RECORD_HEADER_LEN..RECORD_HEADER_LEN + len];
    checksum(h.len_bytes, payload) == h.crc
}
