//! How the engine hands work to the rayon pool from a thread that may not be one of the
//! pool's: [`join`].

/// `rayon::join(a, b)`, except from a thread outside the rayon pool: then `a` and `b` are
/// handed to the pool as two jobs at once, so that two sleeping threads are woken together.
/// (`rayon::join` from outside the pool wakes one thread for `a`, and only that thread, once
/// running, offers `b` to another: on a VM a sleeping thread can take milliseconds to run
/// again, and the two waits then add up.) A result is `None` only if its job never ran,
/// which the scope, waiting for both, rules out.
pub(crate) fn join<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (Option<A>, Option<B>) {
    if rayon::current_thread_index().is_some() {
        let (a, b) = rayon::join(a, b);
        return (Some(a), Some(b));
    }
    let (mut ra, mut rb) = (None, None);
    rayon::in_place_scope(|s| {
        s.spawn(|_| ra = Some(a()));
        s.spawn(|_| rb = Some(b()));
    });
    (ra, rb)
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn from_outside_the_pool_both_run_on_it() {
        assert_eq!(rayon::current_thread_index(), None);
        let mut written = 0;
        let (a, b) = join(
            || {
                written = 7;
                rayon::current_thread_index()
            },
            || rayon::current_thread_index().map(|i| i + 100),
        );
        assert!(matches!(a, Some(Some(_))), "the first ran outside the pool");
        assert!(
            matches!(b, Some(Some(i)) if i >= 100),
            "the second ran outside the pool"
        );
        assert_eq!(written, 7);
    }

    #[test]
    fn inside_the_pool_it_is_rayon_join() -> Result<(), rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
        let (a, b) = pool.install(|| join(|| "a", rayon::current_thread_index));
        assert_eq!(a, Some("a"));
        assert_eq!(b, Some(Some(0)));
        Ok(())
    }
}
