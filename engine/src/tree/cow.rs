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
//! Each chunk can also hold one number derived from its elements ([`CowVec::chunk_memo`]: the
//! tree keeps the encoded length of a chunk of nodes there), kept as long as the chunk is not
//! written. A commit's staged tree shares every chunk it does not touch, memo included, so the
//! next epoch recomputes only the memos of the chunks the commit changed.
//!
//! Invariant: every chunk but the last holds exactly [`CHUNK`] elements and every group but the
//! last exactly [`FANOUT`] chunks; there is no empty chunk or group.

use std::sync::{Arc, OnceLock};

/// Elements per chunk.
pub(crate) const CHUNK: usize = 64;
/// Chunks per group.
pub(crate) const FANOUT: usize = 64;
const GROUP: usize = CHUNK * FANOUT;

/// A chunk's elements and the number [`CowVec::chunk_memo`] derived from them, if asked for
/// since the chunk was last written.
#[derive(Clone, Debug)]
struct ChunkData<T> {
    items: Vec<T>,
    memo: OnceLock<usize>,
}

impl<T> ChunkData<T> {
    fn new(items: Vec<T>) -> Self {
        Self {
            items,
            memo: OnceLock::new(),
        }
    }
}

type Chunk<T> = Arc<ChunkData<T>>;
type Group<T> = Arc<Vec<Chunk<T>>>;

/// A chunk's elements for writing: copied first if shared, and its memo dropped.
fn chunk_mut<T: Clone>(chunk: &mut Chunk<T>) -> &mut Vec<T> {
    let data = Arc::make_mut(chunk);
    data.memo.take();
    &mut data.items
}

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
                chunks.push(Arc::new(ChunkData::new(chunk)));
                if !full {
                    break;
                }
            }
            if chunks.is_empty() {
                break;
            }
            let full =
                chunks.len() == FANOUT && chunks.last().is_some_and(|c| c.items.len() == CHUNK);
            groups.push(Arc::new(chunks));
            if !full {
                break;
            }
        }
        Self { groups, len }
    }

    /// Number of elements.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The element at `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.groups
            .get(i / GROUP)?
            .get((i / CHUNK) % FANOUT)?
            .items
            .get(i % CHUNK)
    }

    /// The element at `i`, for writing: its group table and chunk are copied first if shared.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        let group = Arc::make_mut(self.groups.get_mut(i / GROUP)?);
        chunk_mut(group.get_mut((i / CHUNK) % FANOUT)?).get_mut(i % CHUNK)
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

    /// Changes the element at `i` with `f`, keeping its chunk's memo when that is known and is
    /// the sum of `measure` over the chunk's elements (the tree's encoded lengths): the
    /// element's measure before is taken off and its measure after added, instead of the memo
    /// being dropped as [`CowVec::get_mut`] drops it. A memo smaller than the element's
    /// measure (so not such a sum) is dropped. `None` when `i` is out of range.
    pub(crate) fn update_summed<R>(
        &mut self,
        i: usize,
        measure: impl Fn(&T) -> usize,
        f: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        if i >= self.len {
            return None;
        }
        let group = Arc::make_mut(self.groups.get_mut(i / GROUP)?);
        let data = Arc::make_mut(group.get_mut((i / CHUNK) % FANOUT)?);
        let known = data.memo.take();
        let item = data.items.get_mut(i % CHUNK)?;
        let rest = known.and_then(|m| m.checked_sub(measure(item)));
        let out = f(item);
        if let Some(rest) = rest {
            let _ = data.memo.set(rest + measure(item));
        }
        Some(out)
    }

    /// Appends an element.
    pub(crate) fn push(&mut self, value: T) {
        if self.len.is_multiple_of(GROUP) {
            self.groups.push(Arc::new(Vec::with_capacity(1)));
        }
        if let Some(group) = self.groups.last_mut() {
            let group = Arc::make_mut(group);
            if self.len.is_multiple_of(CHUNK) {
                group.push(Arc::new(ChunkData::new(Vec::with_capacity(CHUNK))));
            }
            if let Some(chunk) = group.last_mut() {
                chunk_mut(chunk).push(value);
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
                    if chunk.items.len() != in_chunk {
                        chunk_mut(chunk).truncate(in_chunk);
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
            .flat_map(|c| c.items.iter())
    }

    /// The number `derive` gives for chunk `c`'s elements (the elements from `c * CHUNK`), computed on the first call since the
    /// chunk was last written and kept; `None` when `c` is out of range. A vector's memos have
    /// one meaning: every caller passes the same `derive`.
    pub(crate) fn chunk_memo(&self, c: usize, derive: impl FnOnce(&[T]) -> usize) -> Option<usize> {
        let chunk = self.groups.get(c / FANOUT)?.get(c % FANOUT)?;
        Some(*chunk.memo.get_or_init(|| derive(&chunk.items)))
    }

    /// The memo of chunk `c`, if it has been derived since the chunk was last written.
    pub(crate) fn known_memo(&self, c: usize) -> Option<usize> {
        self.groups
            .get(c / FANOUT)?
            .get(c % FANOUT)?
            .memo
            .get()
            .copied()
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
                    .map(|g| g.iter().map(|c| c.items.len()).collect())
                    .collect()
            };
            assert_eq!(shape(&collected), shape(&pushed), "n = {n}");
            assert!(collected.iter().copied().eq(0..n));
        }
    }

    #[test]
    fn a_chunk_memo_lasts_until_its_chunk_is_written() {
        let sum = |items: &[usize]| items.iter().sum::<usize>();
        let n = GROUP + 3 * CHUNK + 5;
        let mut a = CowVec::from_vec((0..n).collect::<Vec<usize>>());
        let chunks = n.div_ceil(CHUNK);
        for c in 0..chunks {
            assert_eq!(a.known_memo(c), None);
            let expected = sum(&(c * CHUNK..((c + 1) * CHUNK).min(n)).collect::<Vec<_>>());
            assert_eq!(a.chunk_memo(c, sum), Some(expected));
            assert_eq!(a.known_memo(c), Some(expected));
        }
        assert_eq!(a.chunk_memo(chunks, sum), None);
        // A clone shares the memos; writing forgets the written chunk's in the writer only.
        let b = a.clone();
        assert!(a.set(CHUNK + 1, 0));
        assert_eq!(a.known_memo(1), None);
        assert!(b.known_memo(1).is_some());
        assert!(a.known_memo(0).is_some() && a.known_memo(2).is_some());
        assert_eq!(
            a.chunk_memo(1, sum),
            Some(b.known_memo(1).unwrap() - (CHUNK + 1))
        );
        // So do pushing into and truncating the last chunk, and writing in place.
        let last = chunks - 1;
        a.push(7);
        assert_eq!(a.known_memo(last), None);
        a.chunk_memo(last, sum);
        a.truncate(n - 1);
        assert_eq!(a.known_memo(last), None);
        a.chunk_memo(last, sum);
        if let Some(x) = a.get_mut(last * CHUNK) {
            *x += 1;
        }
        assert_eq!(a.known_memo(last), None);
    }

    #[test]
    fn a_summed_memo_follows_its_elements_through_updates() {
        let n = GROUP + 3 * CHUNK;
        let sum = |c: &[usize]| c.iter().sum::<usize>();
        let base = CowVec::from_vec((0..n).collect::<Vec<_>>());
        for c in 0..n / CHUNK {
            base.chunk_memo(c, sum);
        }
        let mut a = base.clone();
        for (k, i) in [0, 5, CHUNK, GROUP - 1, GROUP + 7, n - 1]
            .into_iter()
            .enumerate()
        {
            let old = *a.get(i).unwrap();
            let new = 3 * k + 1;
            let replaced = a.update_summed(i, |&x| x, |x| std::mem::replace(x, new));
            assert_eq!(replaced, Some(old));
            let c = i / CHUNK;
            let expected = sum(&a
                .iter()
                .skip(c * CHUNK)
                .take(CHUNK)
                .copied()
                .collect::<Vec<_>>());
            assert_eq!(a.known_memo(c), Some(expected), "chunk {c}");
        }
        // The original keeps its elements and memos.
        assert_eq!(base.get(5), Some(&5));
        assert_eq!(
            base.known_memo(0),
            Some(sum(&(0..CHUNK).collect::<Vec<_>>()))
        );
        // An unknown memo stays unknown; out of range is `None`.
        let mut fresh = CowVec::from_vec((0..10).collect::<Vec<usize>>());
        fresh.update_summed(3, |&x| x, |x| *x = 0);
        assert_eq!(fresh.known_memo(0), None);
        assert_eq!(fresh.update_summed(10, |&x| x, |_| ()), None);
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
