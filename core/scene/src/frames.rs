//! Per-frame float data stored as references into shared chunks.
//!
//! A chunk is the `Arc<Vec<f32>>` decoded from one network message; frames
//! point into it. Appending, replacing and removing frames only edits the
//! index, never the float data, so streaming 2,000 frames one by one costs no
//! reallocation copies, and a chunk is freed when no frame refers to it.

use std::sync::Arc;

#[derive(Clone, Debug)]
struct FrameRef {
    chunk: Arc<Vec<f32>>,
    offset: usize,
}

/// A sequence of frames that all share one inner shape (e.g. `[V, 3]`).
#[derive(Clone, Debug)]
pub struct FrameSeq {
    inner_shape: Vec<usize>,
    frame_len: usize,
    frames: Vec<FrameRef>,
}

impl FrameSeq {
    /// `n_frames` frames of `inner_shape` laid out back to back in `chunk`.
    ///
    /// # Panics
    /// If `chunk` does not hold exactly `n_frames * prod(inner_shape)` floats.
    pub fn from_chunk(inner_shape: Vec<usize>, n_frames: usize, chunk: Arc<Vec<f32>>) -> Self {
        let frame_len: usize = inner_shape.iter().product();
        assert_eq!(chunk.len(), frame_len * n_frames, "chunk length does not match its shape");
        let frames = (0..n_frames).map(|i| FrameRef { chunk: Arc::clone(&chunk), offset: i * frame_len }).collect();
        Self { inner_shape, frame_len, frames }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The shape of one frame.
    pub fn inner_shape(&self) -> &[usize] {
        &self.inner_shape
    }

    /// Frame `i`; a frame index past the end gives the last frame (a shorter
    /// sequence holds its last frame). `None` only when the sequence is empty.
    pub fn frame(&self, i: usize) -> Option<&[f32]> {
        let r = self.frames.get(i).or_else(|| self.frames.last())?;
        Some(&r.chunk[r.offset..r.offset + self.frame_len])
    }

    /// Frame `i` (the last one past the end) as the shared chunk that holds it
    /// and its element range: a view that stays valid however the sequence
    /// changes afterwards.
    pub fn frame_shared(&self, i: usize) -> Option<(Arc<Vec<f32>>, std::ops::Range<usize>)> {
        let r = self.frames.get(i).or_else(|| self.frames.last())?;
        Some((Arc::clone(&r.chunk), r.offset..r.offset + self.frame_len))
    }

    /// `n_frames` frames of zeros.
    pub fn zeros(inner_shape: Vec<usize>, n_frames: usize) -> Self {
        let frame_len: usize = inner_shape.iter().product();
        let chunk = Arc::new(vec![0.0; frame_len]);
        let frames = (0..n_frames).map(|_| FrameRef { chunk: Arc::clone(&chunk), offset: 0 }).collect();
        Self { inner_shape, frame_len, frames }
    }

    /// Repeats the last frame until there are `n` frames (no data is copied).
    pub fn pad_to(&mut self, n: usize) {
        if let Some(last) = self.frames.last().cloned() {
            while self.frames.len() < n {
                self.frames.push(last.clone());
            }
        }
    }

    /// Appends all frames of `other` (same inner shape, checked by the caller).
    pub fn append(&mut self, other: FrameSeq) {
        debug_assert_eq!(self.inner_shape, other.inner_shape);
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

    /// Bytes of float data this sequence refers to (counting shared chunks once per frame).
    pub fn data_bytes(&self) -> usize {
        self.frames.len() * self.frame_len * std::mem::size_of::<f32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(values: &[f32], n: usize) -> FrameSeq {
        FrameSeq::from_chunk(vec![values.len() / n], n, Arc::new(values.to_vec()))
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
