//! The envelope v2 sealer never allocates (a device has no heap): sealing
//! runs under a global allocator that counts the allocations of the thread
//! that seals, and the count stays zero.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use solarwire_core::envelope_v2::{Content, HeaderV2, KeyId, KeysV2, seal_v2, sealed_len};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the sealing thread only, so the test harness's threads never count.
    static WATCHED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if WATCHED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn sealing_does_not_allocate() {
    let keys = KeysV2::from_secret(&[1; 32]);
    let plaintext = [0x42u8; 200];
    let mut out = [0u8; sealed_len(200)];
    let header = HeaderV2 {
        content: Content::Binary,
        key_id: KeyId(1),
        device_time_ms: 1_764_633_600_000,
        counter: 1,
    };
    WATCHED.with(|w| w.set(true));
    let mut total = 0;
    for n in [0, 1, 15, 16, 17, 200] {
        total += seal_v2(&header, &plaintext[..n], &keys, [9; 16], &mut out).expect("fits");
    }
    let _ = KeysV2::from_secret(&[2; 32]);
    WATCHED.with(|w| w.set(false));
    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        0,
        "sealing or key derivation allocated"
    );
    assert_eq!(total, 70 * 3 + 86 * 2 + 262);
}
