//! The process allocator and its upkeep.
//!
//! `sluice` allocates with mimalloc (v3, built without transparent huge pages): loading large
//! manifest sets allocates and frees millions of small nodes, where glibc's allocator spent
//! a quarter of `sluice validate`'s time. mimalloc keeps freed memory for reuse and returns
//! it to the OS only after a delay (1 s for pages, 10 s for its arenas) and only when the
//! thread that holds it allocates again. A server that parsed 10,000 objects while starting
//! and then idles therefore kept ~70 MB it no longer used (bench/serve.py (c)).
//! [`release_free_memory`] returns such memory at once; `sluice serve` and `sluice apiserver`
//! call it every few seconds from a thread of their own ([`spawn_upkeep`]).
//!
//! Invariant: this is the only crate with `unsafe` code (the workspace forbids it
//! elsewhere); each unsafe block is one call into mimalloc's C API with no pointers.

pub use mimalloc::MiMalloc;

/// Returns the memory mimalloc holds freed (in this thread's heap, abandoned heaps and the
/// arenas' pages awaiting their purge delay) to the OS now.
pub fn release_free_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// Calls [`release_free_memory`] every `period` on a thread named `allocator-upkeep`, for
/// the life of the process.
pub fn spawn_upkeep(period: std::time::Duration) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("allocator-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(period);
                release_free_memory();
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    #[global_allocator]
    static GLOBAL: super::MiMalloc = super::MiMalloc;

    /// Memory another thread allocated and freed, and which that thread (still alive, idle)
    /// would keep, is returned by a collect on this one: read from /proc/self/statm.
    #[test]
    fn memory_freed_by_an_idle_thread_goes_back_to_the_os() {
        let Some(start) = resident_bytes() else {
            return;
        };
        let (freed_tx, freed_rx) = std::sync::mpsc::channel();
        let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
        let idle = std::thread::spawn(move || {
            let blocks: Vec<Vec<u8>> = (0..20_000).map(|i| vec![i as u8; 4096]).collect();
            std::hint::black_box(&blocks);
            drop(blocks);
            let _ = freed_tx.send(());
            let _ = end_rx.recv();
        });
        freed_rx.recv().expect("the thread allocated and freed");
        let before = resident_bytes().unwrap_or(0);
        super::release_free_memory();
        let after = resident_bytes().unwrap_or(usize::MAX);
        let _ = end_tx.send(());
        idle.join().expect("the thread ends");
        eprintln!("rss: start {start}, freed {before}, after the collect {after}");
        let mib = 1024 * 1024;
        assert!(
            before > start + 60 * mib,
            "the thread's 80 MiB were resident: {before}"
        );
        assert!(
            after < start + 20 * mib,
            "returned: start {start}, after {after}"
        );
    }

    fn resident_bytes() -> Option<usize> {
        let s = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: usize = s.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * 4096)
    }
}
