//! C allocation shims for `wasm32-unknown-unknown`. The pure-Rust `openjp2`
//! (JPEG 2000) is a C translation that still calls `malloc`, `calloc`,
//! `realloc`, `free` and `strcpy`; that target has no libc, so without these
//! a browser module would import them from `env` and fail to instantiate.
//! They sit on Rust's global allocator with a 16-byte size header.
//!
//! openjp2 also calls Rust's `dealloc` with a null pointer for code blocks
//! it never allocated (harmless with libc `free`, an out-of-bounds trap with
//! the wasm target's dlmalloc), so this module installs a global allocator
//! that ignores null deallocations and otherwise defers to `System`.
//! Disable the `wasm-libc-shims` feature if the final binary brings its own
//! C allocation functions and global allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System, alloc, alloc_zeroed, dealloc, realloc as grow};

/// `System`, but `dealloc(null, _)` is a no-op as `free(NULL)` is in C.
struct NullTolerant;

// SAFETY: every call forwards to `System` with the caller's arguments, except
// null deallocations, which free nothing.
unsafe impl GlobalAlloc for NullTolerant {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !ptr.is_null() {
            // SAFETY: forwarded contract for a real allocation.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: NullTolerant = NullTolerant;

/// Keeps the returned pointer aligned like `max_align_t`.
const HEADER: usize = 16;

fn layout(total: usize) -> Option<Layout> {
    Layout::from_size_align(total, HEADER).ok()
}

/// # Safety
/// C `malloc` contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc(size: usize) -> *mut u8 {
    let Some(total) = size.checked_add(HEADER) else {
        return std::ptr::null_mut();
    };
    let Some(l) = layout(total) else {
        return std::ptr::null_mut();
    };
    // SAFETY: non-zero size layout; the header stores the total for free/realloc.
    unsafe {
        let p = alloc(l);
        if p.is_null() {
            return p;
        }
        (p as *mut usize).write(total);
        p.add(HEADER)
    }
}

/// # Safety
/// C `calloc` contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut u8 {
    let Some(total) = n.checked_mul(size).and_then(|s| s.checked_add(HEADER)) else {
        return std::ptr::null_mut();
    };
    let Some(l) = layout(total) else {
        return std::ptr::null_mut();
    };
    // SAFETY: as in `malloc`, zeroed.
    unsafe {
        let p = alloc_zeroed(l);
        if p.is_null() {
            return p;
        }
        (p as *mut usize).write(total);
        p.add(HEADER)
    }
}

/// # Safety
/// C `free` contract: `ptr` is null or came from these functions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(ptr: *mut u8) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` was returned by malloc/calloc/realloc above, so the header precedes it.
    unsafe {
        let base = ptr.sub(HEADER);
        let total = (base as *const usize).read();
        if let Some(l) = layout(total) {
            dealloc(base, l);
        }
    }
}

/// # Safety
/// C `realloc` contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(ptr: *mut u8, size: usize) -> *mut u8 {
    // SAFETY: delegates to the functions above for the null / zero cases.
    unsafe {
        if ptr.is_null() {
            return malloc(size);
        }
        if size == 0 {
            free(ptr);
            return std::ptr::null_mut();
        }
        let Some(total) = size.checked_add(HEADER) else {
            return std::ptr::null_mut();
        };
        let base = ptr.sub(HEADER);
        let old = (base as *const usize).read();
        let Some(l) = layout(old) else {
            return std::ptr::null_mut();
        };
        let p = grow(base, l, total);
        if p.is_null() {
            return p;
        }
        (p as *mut usize).write(total);
        p.add(HEADER)
    }
}

/// # Safety
/// C `strcpy` contract: `src` is NUL-terminated and `dst` large enough.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strcpy(dst: *mut u8, src: *const u8) -> *mut u8 {
    // SAFETY: caller guarantees a terminated source and a large enough destination.
    unsafe {
        let mut i = 0;
        loop {
            let b = src.add(i).read();
            dst.add(i).write(b);
            if b == 0 {
                return dst;
            }
            i += 1;
        }
    }
}
