//! Giving freed memory back to the operating system.
//!
//! glibc's allocator keeps what a burst freed in per-thread arenas, so a proxy that served a
//! hundred streams for a minute would look a hundred streams big for ever after. When a
//! burst ends, [`give_back_soon`] asks the allocator to return its free pages, once, a
//! moment later (so that a run of streams ending together costs one call).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static PENDING: AtomicBool = AtomicBool::new(false);

/// Returns the allocator's free pages to the system a second from now, unless a call is
/// already pending. Needs a tokio runtime; does nothing where the allocator has no such call.
pub fn give_back_soon() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    if PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        PENDING.store(false, Ordering::Release);
        let _ = tokio::task::spawn_blocking(give_back_now).await;
    });
}

/// Returns the allocator's free pages to the system now (a blocking call of a few ms).
pub fn give_back_now() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
