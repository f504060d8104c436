//! A minimal MP4 (ISO base media file) writer for one H.264 video track.
//!
//! Samples are written to `mdat` as they come (the file is streamed, not
//! held in memory); the sample tables go into `moov` at the end. Written
//! from ISO/IEC 14496-12 (boxes) and 14496-15 (`avcC`).

use std::io::{self, Seek, SeekFrom, Write};

/// One H.264 track being written.
pub struct Mp4Writer<W: Write + Seek> {
    out: W,
    width: u16,
    height: u16,
    /// Ticks per second and ticks per frame.
    timescale: u32,
    frame_ticks: u32,
    /// Where the `mdat` box's 64-bit size goes.
    mdat_start: u64,
    sizes: Vec<u32>,
    offsets: Vec<u64>,
    /// 1-based numbers of the sync (IDR) samples.
    sync: Vec<u32>,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    position: u64,
}

/// The NAL units of an Annex B stream, without their start codes.
pub fn nal_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(stream.len(), |&n| n - 3);
        // A four-byte start code leaves one zero before the next three.
        while end > s && stream[end - 1] == 0 && k + 1 < starts.len() {
            end -= 1;
        }
        if end > s {
            out.push(&stream[s..end]);
        }
    }
    out
}

impl<W: Write + Seek> Mp4Writer<W> {
    /// Starts the file: `ftyp` and the head of `mdat`. `fps` may be fractional.
    pub fn new(mut out: W, width: u16, height: u16, fps: f64) -> io::Result<Self> {
        let (timescale, frame_ticks) = timescale(fps);
        let mut head = Vec::new();
        boxed(&mut head, b"ftyp", |b| {
            b.extend_from_slice(b"isom");
            b.extend_from_slice(&0x200u32.to_be_bytes());
            for brand in [b"isom", b"iso2", b"avc1", b"mp41"] {
                b.extend_from_slice(brand);
            }
        });
        let mdat_start = head.len() as u64;
        // A 64-bit `mdat` (size 1, then the real size), patched in `finish`.
        head.extend_from_slice(&1u32.to_be_bytes());
        head.extend_from_slice(b"mdat");
        head.extend_from_slice(&0u64.to_be_bytes());
        out.write_all(&head)?;
        Ok(Self {
            out,
            width,
            height,
            timescale,
            frame_ticks,
            mdat_start,
            sizes: Vec::new(),
            offsets: Vec::new(),
            sync: Vec::new(),
            sps: None,
            pps: None,
            position: head.len() as u64,
        })
    }

    /// Frames written so far.
    pub fn frames(&self) -> usize {
        self.sizes.len()
    }

    /// Adds one encoded frame (Annex B, as an encoder writes it). SPS and PPS
    /// go into the track header; the rest is the sample.
    pub fn write_frame(&mut self, annex_b: &[u8]) -> io::Result<()> {
        let mut sample = Vec::with_capacity(annex_b.len() + 16);
        let mut idr = false;
        for nal in nal_units(annex_b) {
            match nal[0] & 0x1f {
                7 => {
                    self.sps.get_or_insert_with(|| nal.to_vec());
                }
                8 => {
                    self.pps.get_or_insert_with(|| nal.to_vec());
                }
                kind => {
                    idr |= kind == 5;
                    sample.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                    sample.extend_from_slice(nal);
                }
            }
        }
        if sample.is_empty() {
            return Err(io::Error::other("the encoder produced no picture for a frame"));
        }
        self.out.write_all(&sample)?;
        self.offsets.push(self.position);
        self.sizes.push(sample.len() as u32);
        if idr {
            self.sync.push(self.sizes.len() as u32);
        }
        self.position += sample.len() as u64;
        Ok(())
    }

    /// Writes `moov` and patches the `mdat` size. Returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let (Some(sps), Some(pps)) = (self.sps.take(), self.pps.take()) else {
            return Err(io::Error::other("the encoder wrote no SPS/PPS"));
        };
        if sps.len() < 4 {
            return Err(io::Error::other("the encoder wrote a short SPS"));
        }
        let mdat_size = self.position - self.mdat_start;
        let n = self.sizes.len() as u32;
        let duration = u64::from(n) * u64::from(self.frame_ticks);
        let (w, h) = (self.width, self.height);
        let mut moov = Vec::new();
        boxed(&mut moov, b"moov", |b| {
            full(b, b"mvhd", 1, 0, |b| {
                b.extend_from_slice(&[0; 16]); // creation, modification (64-bit)
                b.extend_from_slice(&self.timescale.to_be_bytes());
                b.extend_from_slice(&duration.to_be_bytes());
                b.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate 1.0
                b.extend_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0
                b.extend_from_slice(&[0; 10]);
                matrix(b);
                b.extend_from_slice(&[0; 24]); // pre_defined
                b.extend_from_slice(&2u32.to_be_bytes()); // next track id
            });
            boxed(b, b"trak", |b| {
                full(b, b"tkhd", 1, 3, |b| {
                    b.extend_from_slice(&[0; 16]);
                    b.extend_from_slice(&1u32.to_be_bytes()); // track id
                    b.extend_from_slice(&[0; 4]);
                    b.extend_from_slice(&duration.to_be_bytes());
                    b.extend_from_slice(&[0; 8]);
                    b.extend_from_slice(&[0; 4]); // layer, alternate group
                    b.extend_from_slice(&[0; 4]); // volume, reserved
                    matrix(b);
                    b.extend_from_slice(&(u32::from(w) << 16).to_be_bytes());
                    b.extend_from_slice(&(u32::from(h) << 16).to_be_bytes());
                });
                boxed(b, b"mdia", |b| {
                    full(b, b"mdhd", 1, 0, |b| {
                        b.extend_from_slice(&[0; 16]);
                        b.extend_from_slice(&self.timescale.to_be_bytes());
                        b.extend_from_slice(&duration.to_be_bytes());
                        b.extend_from_slice(&0x55c4u16.to_be_bytes()); // "und"
                        b.extend_from_slice(&[0; 2]);
                    });
                    full(b, b"hdlr", 0, 0, |b| {
                        b.extend_from_slice(&[0; 4]);
                        b.extend_from_slice(b"vide");
                        b.extend_from_slice(&[0; 12]);
                        b.extend_from_slice(b"Periscope video\0");
                    });
                    boxed(b, b"minf", |b| {
                        full(b, b"vmhd", 0, 1, |b| b.extend_from_slice(&[0; 8]));
                        boxed(b, b"dinf", |b| {
                            full(b, b"dref", 0, 0, |b| {
                                b.extend_from_slice(&1u32.to_be_bytes());
                                full(b, b"url ", 0, 1, |_| {});
                            });
                        });
                        boxed(b, b"stbl", |b| self.sample_tables(b, &sps, &pps));
                    });
                });
            });
        });
        self.out.write_all(&moov)?;
        self.out.seek(SeekFrom::Start(self.mdat_start + 8))?;
        self.out.write_all(&mdat_size.to_be_bytes())?;
        self.out.seek(SeekFrom::End(0))?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn sample_tables(&self, b: &mut Vec<u8>, sps: &[u8], pps: &[u8]) {
        let n = self.sizes.len() as u32;
        full(b, b"stsd", 0, 0, |b| {
            b.extend_from_slice(&1u32.to_be_bytes());
            boxed(b, b"avc1", |b| {
                b.extend_from_slice(&[0; 6]);
                b.extend_from_slice(&1u16.to_be_bytes()); // data reference index
                b.extend_from_slice(&[0; 16]);
                b.extend_from_slice(&self.width.to_be_bytes());
                b.extend_from_slice(&self.height.to_be_bytes());
                b.extend_from_slice(&0x0048_0000u32.to_be_bytes()); // 72 dpi
                b.extend_from_slice(&0x0048_0000u32.to_be_bytes());
                b.extend_from_slice(&[0; 4]);
                b.extend_from_slice(&1u16.to_be_bytes()); // frames per sample
                let mut name = [0u8; 32];
                let label = b"Periscope H.264";
                name[0] = label.len() as u8;
                name[1..=label.len()].copy_from_slice(label);
                b.extend_from_slice(&name);
                b.extend_from_slice(&0x0018u16.to_be_bytes()); // depth
                b.extend_from_slice(&(-1i16).to_be_bytes());
                boxed(b, b"avcC", |b| {
                    b.extend_from_slice(&[1, sps[1], sps[2], sps[3], 0xff, 0xe1]);
                    b.extend_from_slice(&(sps.len() as u16).to_be_bytes());
                    b.extend_from_slice(sps);
                    b.push(1);
                    b.extend_from_slice(&(pps.len() as u16).to_be_bytes());
                    b.extend_from_slice(pps);
                });
            });
        });
        full(b, b"stts", 0, 0, |b| {
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(&n.to_be_bytes());
            b.extend_from_slice(&self.frame_ticks.to_be_bytes());
        });
        full(b, b"stss", 0, 0, |b| {
            b.extend_from_slice(&(self.sync.len() as u32).to_be_bytes());
            for s in &self.sync {
                b.extend_from_slice(&s.to_be_bytes());
            }
        });
        full(b, b"stsc", 0, 0, |b| {
            // Every chunk holds one sample.
            b.extend_from_slice(&1u32.to_be_bytes());
            for v in [1u32, 1, 1] {
                b.extend_from_slice(&v.to_be_bytes());
            }
        });
        full(b, b"stsz", 0, 0, |b| {
            b.extend_from_slice(&0u32.to_be_bytes());
            b.extend_from_slice(&n.to_be_bytes());
            for s in &self.sizes {
                b.extend_from_slice(&s.to_be_bytes());
            }
        });
        full(b, b"co64", 0, 0, |b| {
            b.extend_from_slice(&n.to_be_bytes());
            for o in &self.offsets {
                b.extend_from_slice(&o.to_be_bytes());
            }
        });
    }
}

/// A timescale and frame duration in ticks for `fps` (29.97 -> 30000 / 1001).
fn timescale(fps: f64) -> (u32, u32) {
    for ticks in [1u32, 1001, 1000] {
        let scale = fps * f64::from(ticks);
        if (scale - scale.round()).abs() < 1e-3 && scale.round() >= 1.0 {
            return (scale.round() as u32, ticks);
        }
    }
    ((fps * 1000.0).round().max(1.0) as u32, 1000)
}

fn boxed(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(kind);
    body(out);
    let size = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

fn full(out: &mut Vec<u8>, kind: &[u8; 4], version: u8, flags: u32, body: impl FnOnce(&mut Vec<u8>)) {
    boxed(out, kind, |b| {
        b.extend_from_slice(&((u32::from(version) << 24) | flags).to_be_bytes());
        body(b);
    });
}

/// The identity transform matrix of `mvhd`/`tkhd` (16.16 and 2.30 fixed point).
fn matrix(b: &mut Vec<u8>) {
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        b.extend_from_slice(&v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_splits_into_nal_units_with_either_start_code() {
        let s = [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5, 0];
        let units = nal_units(&s);
        assert_eq!(units, vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4, 5, 0][..]]);
    }

    #[test]
    fn frame_rates_get_exact_timescales() {
        assert_eq!(timescale(30.0), (30, 1));
        assert_eq!(timescale(30000.0 / 1001.0), (30000, 1001));
        assert_eq!(timescale(12.5), (12500, 1000));
    }
}
