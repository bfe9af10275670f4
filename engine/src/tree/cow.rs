//! A copy-on-write vector in two levels of fixed-size chunks: the storage behind
//! [`super::Tree`].
//!
//! Elements live in chunks of [`CHUNK`] elements; chunks are grouped [`FANOUT`] to a group.
//! Cloning a [`CowVec`] bumps one reference count per group (one per 4,096 elements: about 50
//! for the 200,000 nodes of a 100,000-member tree). Writing an element copies its group's
//! table of chunk pointers and its chunk, each only if still shared with another clone. This
//! is what makes a staged tree cheap: a commit that touches `k` nodes copies at most `k`
//! chunks and `k` tables, never the whole array.
//!
//! Invariant: every chunk but the last holds exactly [`CHUNK`] elements and every group but the
//! last exactly [`FANOUT`] chunks; there is no empty chunk or group.

use std::sync::Arc;

/// Elements per chunk.
pub(crate) const CHUNK: usize = 64;
/// Chunks per group.
pub(crate) const FANOUT: usize = 64;
const GROUP: usize = CHUNK * FANOUT;

type Chunk<T> = Arc<Vec<T>>;
type Group<T> = Arc<Vec<Chunk<T>>>;

/// A vector whose clones share unchanged chunks.
#[derive(Clone, Debug)]
pub(crate) struct CowVec<T> {
    groups: Vec<Group<T>>,
    len: usize,
}

impl<T> Default for CowVec<T> {
    fn default() -> Self {
        Self {
            groups: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> CowVec<T> {
    /// Takes ownership of `items`.
    pub(crate) fn from_vec(items: Vec<T>) -> Self {
        Self::from_iter_exact(items)
    }

    /// Collects `items` straight into full chunks and groups (no per-element reference-count
    /// check, as [`CowVec::push`] does): how a tree of N nodes is built on join.
    pub(crate) fn from_iter_exact(items: impl IntoIterator<Item = T>) -> Self {
        let mut items = items.into_iter();
        let mut groups = Vec::new();
        let mut len = 0;
        loop {
            let mut chunks = Vec::with_capacity(1);
            while chunks.len() < FANOUT {
                let chunk: Vec<T> = items.by_ref().take(CHUNK).collect();
                if chunk.is_empty() {
                    break;
                }
                len += chunk.len();
                let full = chunk.len() == CHUNK;
                chunks.push(Arc::new(chunk));
                if !full {
                    break;
                }
            }
            if chunks.is_empty() {
                break;
            }
            let full = chunks.len() == FANOUT && chunks.last().is_some_and(|c| c.len() == CHUNK);
            groups.push(Arc::new(chunks));
            if !full {
                break;
            }
        }
        Self { groups, len }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The element at `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.groups
            .get(i / GROUP)?
            .get((i / CHUNK) % FANOUT)?
            .get(i % CHUNK)
    }

    /// The element at `i`, for writing: its group table and chunk are copied first if shared.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        let group = Arc::make_mut(self.groups.get_mut(i / GROUP)?);
        Arc::make_mut(group.get_mut((i / CHUNK) % FANOUT)?).get_mut(i % CHUNK)
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
        if self.len.is_multiple_of(GROUP) {
            self.groups.push(Arc::new(Vec::with_capacity(1)));
        }
        if let Some(group) = self.groups.last_mut() {
            let group = Arc::make_mut(group);
            if self.len.is_multiple_of(CHUNK) {
                group.push(Arc::new(Vec::with_capacity(CHUNK)));
            }
            if let Some(chunk) = group.last_mut() {
                Arc::make_mut(chunk).push(value);
            }
        }
        self.len += 1;
    }

    /// Shortens the vector to `len` elements (no-op when already shorter).
    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.groups.truncate(len.div_ceil(GROUP));
        let in_group = len - (len.saturating_sub(1) / GROUP) * GROUP;
        if len > 0 {
            if let Some(group) = self.groups.last_mut() {
                let group = Arc::make_mut(group);
                group.truncate(in_group.div_ceil(CHUNK));
                let in_chunk = in_group - (in_group.saturating_sub(1) / CHUNK) * CHUNK;
                if let Some(chunk) = group.last_mut() {
                    if chunk.len() != in_chunk {
                        Arc::make_mut(chunk).truncate(in_chunk);
                    }
                }
            }
        }
        self.len = len;
    }

    /// Iterates over the elements in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.groups
            .iter()
            .flat_map(|g| g.iter())
            .flat_map(|c| c.iter())
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
        assert!(Arc::ptr_eq(&a.groups[0][0], &b.groups[0][0]));
        assert!(!Arc::ptr_eq(&a.groups[0][2], &b.groups[0][2]));
    }

    #[test]
    fn large_push_truncate_matches_vec() {
        let n = 3 * GROUP + 5 * CHUNK + 7;
        let mut a = CowVec::from_vec((0..n).collect::<Vec<usize>>());
        let mut model: Vec<usize> = (0..n).collect();
        let b = a.clone();
        for cut in [
            n - 1,
            2 * GROUP + 1,
            2 * GROUP,
            GROUP + CHUNK,
            GROUP,
            CHUNK - 1,
            1,
            0,
        ] {
            a.truncate(cut);
            model.truncate(cut);
            assert_eq!(a.len(), model.len());
            assert!(a.iter().copied().eq(model.iter().copied()), "cut {cut}");
            for x in 0..(CHUNK + 3) {
                a.push(x);
                model.push(x);
            }
            assert!(a.iter().copied().eq(model.iter().copied()), "regrow {cut}");
            a.truncate(cut);
            model.truncate(cut);
        }
        assert_eq!(b.len(), n);
        assert!(b.iter().copied().eq(0..n));
        assert_eq!(b.get(n), None);
    }

    /// Collecting gives the same layout as pushing one by one (the invariant: full chunks and
    /// groups but the last, none empty), at every boundary.
    #[test]
    fn collected_equals_pushed() {
        for n in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            GROUP - 1,
            GROUP,
            GROUP + 1,
            2 * GROUP + CHUNK,
        ] {
            let collected = CowVec::from_iter_exact(0..n);
            let mut pushed = CowVec::default();
            for i in 0..n {
                pushed.push(i);
            }
            assert_eq!(collected.len(), n);
            let shape = |v: &CowVec<usize>| -> Vec<Vec<usize>> {
                v.groups
                    .iter()
                    .map(|g| g.iter().map(|c| c.len()).collect())
                    .collect()
            };
            assert_eq!(shape(&collected), shape(&pushed), "n = {n}");
            assert!(collected.iter().copied().eq(0..n));
        }
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
