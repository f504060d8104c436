//! Reading recordings: everything up to the first damage.

use std::path::Path;

use bytes::Bytes;
use periscope_protocol::{DecodeLimits, Value, decode_value};

use crate::{Kind, MAGIC, Record, VERSION};

/// Why a recording cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {0}")]
    Io(String),
    #[error("{0} is not a Periscope recording (no PSREC header)")]
    NotARecording(String),
    #[error("{path} is a version {version} recording; this viewer reads up to version {VERSION}: update Periscope")]
    Newer { path: String, version: u32 },
}

/// A loaded recording.
#[derive(Debug)]
pub struct Recording {
    pub records: Vec<Record>,
    /// The header's fields (`created`, `viewer`, `protocol`).
    pub header: Value,
    /// Set when the file ends early or is damaged: what was read is kept.
    pub warning: Option<String>,
}

impl Recording {
    /// Seconds from the first to the last record.
    pub fn duration(&self) -> f64 {
        self.records.last().map_or(0.0, |r| r.t)
    }
}

/// Reads the recording at `path`.
pub fn read(path: &Path) -> Result<Recording, ReadError> {
    let bytes = std::fs::read(path).map_err(|e| ReadError::Io(format!("{}: {e}", path.display())))?;
    read_bytes(Bytes::from(bytes), &path.display().to_string())
}

/// Reads a recording from memory; `name` is used in messages.
pub fn read_bytes(data: Bytes, name: &str) -> Result<Recording, ReadError> {
    if data.len() < 16 || &data[..8] != MAGIC {
        return Err(ReadError::NotARecording(name.to_owned()));
    }
    let version = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
    if version > VERSION {
        return Err(ReadError::Newer { path: name.to_owned(), version });
    }
    let header_len = u32::from_le_bytes(data[12..16].try_into().expect("4 bytes")) as usize;
    let header = data
        .get(16..16 + header_len)
        .and_then(|h| decode_value(h, DecodeLimits::default()).ok())
        .ok_or_else(|| ReadError::NotARecording(name.to_owned()))?;
    let mut records = Vec::new();
    let mut pos = 16 + header_len;
    let mut warning = None;
    while pos < data.len() {
        match record_at(&data, pos) {
            Ok((r, next)) => {
                records.push(r);
                pos = next;
            }
            Err(why) => {
                warning = Some(format!(
                    "{name}: {why} at byte {pos} of {}; loaded the {} record(s) before it",
                    data.len(),
                    records.len()
                ));
                break;
            }
        }
    }
    Ok(Recording { records, header, warning })
}

fn record_at(data: &Bytes, pos: usize) -> Result<(Record, usize), String> {
    let u32_at = |p: usize| data.get(p..p + 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize);
    let u64_at = |p: usize| data.get(p..p + 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize);
    let meta_len = u32_at(pos).ok_or("the file ends inside a record")?;
    let meta = data.get(pos + 4..pos + 4 + meta_len).ok_or("the file ends inside a record")?;
    let frame_at = pos + 4 + meta_len;
    let frame_len = u64_at(frame_at).ok_or("the file ends inside a record")?;
    let end =
        frame_at.checked_add(8 + frame_len).filter(|&e| e <= data.len()).ok_or("the file ends inside a record")?;
    let meta = decode_value(meta, DecodeLimits::default()).map_err(|e| format!("a damaged record ({e})"))?;
    let kind = meta.get("kind").and_then(Value::as_str).and_then(Kind::parse).ok_or("a record without a kind")?;
    let record = Record {
        t: meta.get("t").and_then(Value::as_f64).ok_or("a record without a time")?,
        kind,
        client: meta
            .get("client")
            .and_then(Value::as_i64)
            .and_then(|c| u64::try_from(c).ok())
            .ok_or("a record without a client")?,
        name: meta.get("name").and_then(Value::as_str).unwrap_or("").to_owned(),
        seq: meta.get("seq").and_then(Value::as_i64).and_then(|s| u64::try_from(s).ok()),
        frame: data.slice(frame_at + 8..end),
    };
    Ok((record, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::{write_header, write_record};

    fn file(records: &[Record]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out).unwrap();
        for r in records {
            write_record(&mut out, r).unwrap();
        }
        out
    }

    fn rec(t: f64, kind: Kind, frame: &[u8]) -> Record {
        Record { t, kind, client: 3, name: "py".into(), seq: Some(7), frame: Bytes::copy_from_slice(frame) }
    }

    #[test]
    fn round_trip() {
        let rs = vec![
            rec(0.0, Kind::Connect, b""),
            rec(0.5, Kind::Message, b"\x81\xa4type\x01"),
            rec(1.0, Kind::Disconnect, b""),
        ];
        let got = read_bytes(Bytes::from(file(&rs)), "x").unwrap();
        assert_eq!(got.records, rs);
        assert!(got.warning.is_none());
        assert_eq!(got.duration(), 1.0);
    }

    #[test]
    fn truncated_files_keep_the_prefix_with_a_warning() {
        let rs = vec![rec(0.0, Kind::Message, &[1; 100]), rec(0.1, Kind::Message, &[2; 100])];
        let full = file(&rs);
        for cut in [full.len() - 1, full.len() - 60, full.len() - 110] {
            let got = read_bytes(Bytes::copy_from_slice(&full[..cut]), "cut.psr").unwrap();
            assert_eq!(got.records.len(), 1, "cut at {cut}");
            assert!(got.warning.as_deref().unwrap().contains("ends inside a record"));
        }
        // A corrupted meta is reported as damage.
        let mut bad = full.clone();
        let first_meta = 16 + u32::from_le_bytes(bad[12..16].try_into().unwrap()) as usize + 4;
        bad[first_meta] = 0xc1; // never used in MessagePack
        let got = read_bytes(Bytes::from(bad), "bad.psr").unwrap();
        assert!(got.records.is_empty() && got.warning.unwrap().contains("damaged"));
    }

    #[test]
    fn foreign_and_newer_files_are_refused_clearly() {
        assert!(matches!(
            read_bytes(Bytes::from_static(b"GIF89a......................"), "a.gif"),
            Err(ReadError::NotARecording(_))
        ));
        let mut newer = file(&[]);
        newer[8..12].copy_from_slice(&2u32.to_le_bytes());
        let e = read_bytes(Bytes::from(newer), "new.psr").unwrap_err().to_string();
        assert!(e.contains("version 2") && e.contains("update Periscope"), "{e}");
    }
}
