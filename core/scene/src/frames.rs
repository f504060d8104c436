//! Per-frame float data stored as references into shared chunks.
//!
//! A chunk is the `Arc<Vec<f32>>` decoded from one network message; frames
//! point into it. Appending, replacing and removing frames only edits the
//! index, never the float data, so streaming 2,000 frames one by one costs no
//! reallocation copies, and a chunk is freed when no frame refers to it.
//!
//! A *ragged* sequence (point clouds) lets the first dimension differ from
//! frame to frame: its frames share the shape of one row (e.g. `[3]`).

use std::sync::Arc;

#[derive(Clone, Debug)]
struct FrameRef {
    chunk: Arc<Vec<f32>>,
    offset: usize,
    len: usize,
}

/// A sequence of frames that all share one inner shape (e.g. `[V, 3]`), or,
/// when ragged, one row shape (e.g. `[3]`) with any number of rows per frame.
#[derive(Clone, Debug)]
pub struct FrameSeq {
    /// The shape of a frame; of a row when ragged.
    inner_shape: Vec<usize>,
    /// Elements per frame; per row when ragged.
    frame_len: usize,
    frames: Vec<FrameRef>,
    ragged: bool,
}

impl FrameSeq {
    /// `n_frames` frames of `inner_shape` laid out back to back in `chunk`.
    ///
    /// # Panics
    /// If `chunk` does not hold exactly `n_frames * prod(inner_shape)` floats.
    pub fn from_chunk(inner_shape: Vec<usize>, n_frames: usize, chunk: Arc<Vec<f32>>) -> Self {
        let frame_len: usize = inner_shape.iter().product();
        assert_eq!(chunk.len(), frame_len * n_frames, "chunk length does not match its shape");
        let frames = (0..n_frames)
            .map(|i| FrameRef { chunk: Arc::clone(&chunk), offset: i * frame_len, len: frame_len })
            .collect();
        Self { inner_shape, frame_len, frames, ragged: false }
    }

    /// A ragged sequence: frame `i` is `rows[i]` rows of `row_shape`, laid out
    /// back to back in `chunk`.
    ///
    /// # Panics
    /// If `chunk` does not hold exactly `sum(rows) * prod(row_shape)` floats.
    pub fn ragged(row_shape: Vec<usize>, rows: &[usize], chunk: Arc<Vec<f32>>) -> Self {
        let row_len: usize = row_shape.iter().product();
        assert_eq!(chunk.len(), rows.iter().sum::<usize>() * row_len, "chunk length does not match its rows");
        let mut offset = 0;
        let frames = rows
            .iter()
            .map(|&n| {
                let r = FrameRef { chunk: Arc::clone(&chunk), offset, len: n * row_len };
                offset += n * row_len;
                r
            })
            .collect();
        Self { inner_shape: row_shape, frame_len: row_len, frames, ragged: true }
    }

    /// Whether the number of rows may differ from frame to frame.
    pub fn is_ragged(&self) -> bool {
        self.ragged
    }

    /// The shape of frame `i` (the last one past the end): the inner shape, or
    /// for a ragged sequence its rows and the row shape.
    pub fn frame_shape(&self, i: usize) -> Vec<usize> {
        if !self.ragged {
            return self.inner_shape.clone();
        }
        let len = self.frames.get(i).or_else(|| self.frames.last()).map_or(0, |r| r.len);
        let mut shape = vec![len / self.frame_len.max(1)];
        shape.extend_from_slice(&self.inner_shape);
        shape
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The shape of one frame; of one row when ragged (see [`Self::frame_shape`]).
    pub fn inner_shape(&self) -> &[usize] {
        &self.inner_shape
    }

    /// Frame `i`; a frame index past the end gives the last frame (a shorter
    /// sequence holds its last frame). `None` only when the sequence is empty.
    pub fn frame(&self, i: usize) -> Option<&[f32]> {
        let r = self.frames.get(i).or_else(|| self.frames.last())?;
        Some(&r.chunk[r.offset..r.offset + r.len])
    }

    /// Frame `i` (the last one past the end) as the shared chunk that holds it
    /// and its element range: a view that stays valid however the sequence
    /// changes afterwards.
    pub fn frame_shared(&self, i: usize) -> Option<(Arc<Vec<f32>>, std::ops::Range<usize>)> {
        let r = self.frames.get(i).or_else(|| self.frames.last())?;
        Some((Arc::clone(&r.chunk), r.offset..r.offset + r.len))
    }

    /// `n_frames` frames of zeros.
    pub fn zeros(inner_shape: Vec<usize>, n_frames: usize) -> Self {
        let frame_len: usize = inner_shape.iter().product();
        let chunk = Arc::new(vec![0.0; frame_len]);
        let frames = (0..n_frames).map(|_| FrameRef { chunk: Arc::clone(&chunk), offset: 0, len: frame_len }).collect();
        Self { inner_shape, frame_len, frames, ragged: false }
    }

    /// Repeats the last frame until there are `n` frames (no data is copied).
    pub fn pad_to(&mut self, n: usize) {
        if let Some(last) = self.frames.last().cloned() {
            while self.frames.len() < n {
                self.frames.push(last.clone());
            }
        }
    }

    /// Appends all frames of `other` (same inner or row shape, checked by the caller).
    pub fn append(&mut self, other: FrameSeq) {
        debug_assert_eq!((&self.inner_shape, self.ragged), (&other.inner_shape, other.ragged));
        self.frames.extend(other.frames);
    }

    /// Replaces frame `indices[k]` by frame `k` of `other`, or by its only
    /// frame when `other` has one. Indices are checked by the caller.
    pub fn replace(&mut self, indices: &[usize], other: &FrameSeq) {
        for (k, &i) in indices.iter().enumerate() {
            let src = if other.frames.len() == 1 { &other.frames[0] } else { &other.frames[k] };
            self.frames[i] = src.clone();
        }
    }

    /// Removes the frames at `sorted_unique` indices (ascending, in range).
    pub fn remove(&mut self, sorted_unique: &[usize]) {
        let mut k = 0;
        let mut i = 0;
        self.frames.retain(|_| {
            let drop = k < sorted_unique.len() && sorted_unique[k] == i;
            if drop {
                k += 1;
            }
            i += 1;
            !drop
        });
    }

    /// Whether frame `i` of `self` is frame `j` of `other`: the same place in
    /// the same shared chunk (data is never compared, only identity).
    pub fn same_frame(&self, i: usize, other: &FrameSeq, j: usize) -> bool {
        match (self.frames.get(i), other.frames.get(j)) {
            (Some(a), Some(b)) => Arc::ptr_eq(&a.chunk, &b.chunk) && a.offset == b.offset && a.len == b.len,
            _ => false,
        }
    }

    /// Whether `other` has the same inner (or row) shape and raggedness.
    pub fn same_layout(&self, other: &FrameSeq) -> bool {
        self.ragged == other.ragged && self.inner_shape == other.inner_shape
    }

    /// Frames `range` as a sequence of their own, sharing the data.
    pub fn slice(&self, range: std::ops::Range<usize>) -> FrameSeq {
        Self {
            inner_shape: self.inner_shape.clone(),
            frame_len: self.frame_len,
            frames: self.frames[range].to_vec(),
            ragged: self.ragged,
        }
    }

    /// An empty sequence with `other`'s layout.
    pub fn empty_like(other: &FrameSeq) -> FrameSeq {
        other.slice(0..0)
    }

    /// Replaces frames `at..at + remove` by the frames of `insert` (same
    /// layout, checked by the caller).
    pub fn splice(&mut self, at: usize, remove: usize, insert: FrameSeq) {
        self.frames.splice(at..at + remove, insert.frames);
    }

    /// Rows of each frame (`frame_len / row_len`; 1 for a sequence that is not ragged).
    pub fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        let row = self.frame_len.max(1);
        self.frames.iter().map(move |r| if self.ragged { r.len / row } else { 1 })
    }

    /// Floats in each frame.
    pub fn frame_lens(&self) -> impl Iterator<Item = usize> + '_ {
        self.frames.iter().map(|r| r.len)
    }

    /// Bytes of float data this sequence refers to (counting shared chunks once per frame).
    pub fn data_bytes(&self) -> usize {
        self.frames.iter().map(|r| r.len).sum::<usize>() * std::mem::size_of::<f32>()
    }

    /// The chunks its frames point into, each as (address, bytes): a chunk
    /// stays allocated whole while any frame refers into it.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.frames.iter().map(|r| (Arc::as_ptr(&r.chunk) as usize, r.chunk.len() * std::mem::size_of::<f32>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(values: &[f32], n: usize) -> FrameSeq {
        FrameSeq::from_chunk(vec![values.len() / n], n, Arc::new(values.to_vec()))
    }

    #[test]
    fn ragged_frames_keep_their_own_rows() {
        let mut s = FrameSeq::ragged(vec![3], &[1, 2], Arc::new((0..9).map(|i| i as f32).collect()));
        assert!(s.is_ragged());
        assert_eq!(s.frame_shape(0), vec![1, 3]);
        assert_eq!(s.frame(1), Some(&[3f32, 4., 5., 6., 7., 8.][..]));
        s.append(FrameSeq::ragged(vec![3], &[3], Arc::new(vec![1.0; 9])));
        assert_eq!((s.len(), s.frame_shape(2)), (3, vec![3, 3]));
        s.replace(&[0], &FrameSeq::ragged(vec![3], &[2], Arc::new(vec![7.0; 6])));
        assert_eq!(s.frame_shape(0), vec![2, 3]);
        s.remove(&[1]);
        assert_eq!((s.len(), s.data_bytes()), (2, (6 + 9) * 4));
        assert_eq!(s.frame_shape(99), vec![3, 3], "past the end is the last frame");
    }

    #[test]
    fn append_replace_remove() {
        let mut s = seq(&[0., 0., 1., 1.], 2);
        s.append(seq(&[2., 2., 3., 3., 4., 4.], 3));
        assert_eq!(s.len(), 5);
        assert_eq!(s.frame(3), Some(&[3f32, 3.][..]));
        s.replace(&[0, 4], &seq(&[9., 9.], 1));
        assert_eq!(s.frame(0), Some(&[9f32, 9.][..]));
        assert_eq!(s.frame(4), Some(&[9f32, 9.][..]));
        s.remove(&[1, 2]);
        let all: Vec<f32> = (0..s.len()).map(|i| s.frame(i).unwrap()[0]).collect();
        assert_eq!(all, vec![9., 3., 9.]);
        assert_eq!(s.frame(100), Some(&[9f32, 9.][..]), "past the end holds the last frame");
    }

    #[test]
    fn appending_shares_the_chunk() {
        let chunk = Arc::new(vec![1.0f32; 6]);
        let s = FrameSeq::from_chunk(vec![3], 2, Arc::clone(&chunk));
        assert_eq!(Arc::strong_count(&chunk), 3);
        drop(s);
        assert_eq!(Arc::strong_count(&chunk), 1, "removing every frame frees the chunk");
    }
}
