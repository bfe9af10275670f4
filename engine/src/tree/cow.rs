//! A copy-on-write vector in fixed-size chunks: the storage behind [`super::Tree`].
//!
//! Cloning a [`CowVec`] copies one pointer per chunk of [`CHUNK`] elements (it bumps reference
//! counts); writing to an element copies only that element's chunk, and only if the chunk is
//! still shared with another clone. This is what makes a staged tree cheap: a commit that
//! touches `k` nodes copies at most `k` chunks, never the whole array.
//!
//! Invariant: every chunk but the last holds exactly [`CHUNK`] elements; the last holds
//! between 1 and [`CHUNK`] (there is no empty chunk).

use std::sync::Arc;

/// Elements per chunk.
pub(crate) const CHUNK: usize = 64;

/// A vector whose clones share unchanged chunks.
#[derive(Clone, Debug)]
pub(crate) struct CowVec<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for CowVec<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> CowVec<T> {
    /// Takes ownership of `items`.
    pub(crate) fn from_vec(items: Vec<T>) -> Self {
        let len = items.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut it = items.into_iter();
        loop {
            let chunk: Vec<T> = it.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(Arc::new(chunk));
        }
        Self { chunks, len }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The element at `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    /// The element at `i`, for writing: its chunk is copied first if shared.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        Arc::make_mut(self.chunks.get_mut(i / CHUNK)?).get_mut(i % CHUNK)
    }

    /// Replaces the element at `i`; returns false when `i` is out of range.
    pub(crate) fn set(&mut self, i: usize, value: T) -> bool {
        match self.get_mut(i) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    /// Appends an element.
    pub(crate) fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(value),
            _ => self.chunks.push(Arc::new(vec![value])),
        }
        self.len += 1;
    }

    /// Shortens the vector to `len` elements (no-op when already shorter).
    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.chunks.truncate(len.div_ceil(CHUNK));
        let rem = len % CHUNK;
        if rem != 0 {
            if let Some(last) = self.chunks.last_mut() {
                Arc::make_mut(last).truncate(rem);
            }
        }
        self.len = len;
    }

    /// Iterates over the elements in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_shares_until_written() {
        let mut a = CowVec::from_vec((0..200u32).collect());
        let b = a.clone();
        assert!(a.set(130, 7));
        assert_eq!(a.get(130), Some(&7));
        assert_eq!(b.get(130), Some(&130));
        // Untouched chunks are still shared.
        assert!(Arc::ptr_eq(&a.chunks[0], &b.chunks[0]));
        assert!(!Arc::ptr_eq(&a.chunks[2], &b.chunks[2]));
    }

    #[test]
    fn push_truncate() {
        let mut a = CowVec::from_vec(Vec::<u32>::new());
        for i in 0..150 {
            a.push(i);
        }
        assert_eq!(a.len(), 150);
        a.truncate(64);
        assert_eq!(a.len(), 64);
        assert_eq!(a.get(63), Some(&63));
        assert_eq!(a.get(64), None);
        a.truncate(10);
        a.push(99);
        assert_eq!(a.iter().copied().collect::<Vec<_>>().len(), 11);
        assert_eq!(a.get(10), Some(&99));
        a.truncate(0);
        assert_eq!(a.len(), 0);
        a.push(1);
        assert_eq!(a.get(0), Some(&1));
    }
}
