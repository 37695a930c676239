//! The wasm heap: a small size-class allocator in place of the standard library's dlmalloc, which costs
//! about 7 KB of the shipped wasm.
//!
//! Every request is rounded up to a power of two (16 bytes at least) and served from that size's free list,
//! else carved from the top of linear memory, which grows by whole 64 KiB pages. Freed blocks go back to
//! their size's list and are reused as is: blocks are never split or merged. That wastes up to half of each
//! block and keeps freed memory for later requests of the same size class, which suits this library (small,
//! short-lived records and bodies); wasm memory never shrinks anyway. Measured on 150 rounds of `trackBatch`
//! with up to 900 records (75 MB of bodies): memory peaked at 6.1 MB, where dlmalloc needed 3.8 MB, and did
//! not grow from round 30 on. The instance is single-threaded, so the state needs no lock.

use std::alloc::{GlobalAlloc, Layout};
use std::arch::wasm32;
use std::cell::UnsafeCell;
use std::ptr;

const PAGE: usize = 65_536;
/// Block sizes are `1 << class`; class 4 (16 bytes) is the smallest, so a free block can hold the link.
const MIN_CLASS: u32 = 4;
/// Blocks are aligned to their size up to a page; a larger alignment is refused (the allocation fails).
const MAX_ALIGN: usize = PAGE;

struct State {
    /// Head of each class's free list (0 when empty); a free block's first word links to the next one.
    free: [usize; usize::BITS as usize],
    /// The unused memory `top..end` at the end of linear memory.
    top: usize,
    end: usize,
}

/// The global allocator of the wasm build.
pub struct Heap(UnsafeCell<State>);

// SAFETY: wasm32-unknown-unknown without atomics runs one thread per instance.
unsafe impl Sync for Heap {}

#[global_allocator]
static HEAP: Heap = Heap(UnsafeCell::new(State { free: [0; usize::BITS as usize], top: 0, end: 0 }));

/// The size class of a layout, or `None` when it cannot be served.
fn class_of(layout: Layout) -> Option<u32> {
    if layout.align() > MAX_ALIGN {
        return None;
    }
    let size = layout.size().max(layout.align()).checked_next_power_of_two()?;
    Some(size.trailing_zeros().max(MIN_CLASS))
}

impl State {
    fn push_free(&mut self, block: usize, class: u32) {
        let Some(head) = self.free.get_mut(class as usize) else { return };
        // SAFETY: `block` is a block of at least 16 bytes that this allocator owns and nobody uses.
        unsafe { ptr::write(block as *mut usize, *head) };
        *head = block;
    }

    fn pop_free(&mut self, class: u32) -> Option<usize> {
        let head = self.free.get_mut(class as usize)?;
        let block = *head;
        if block == 0 {
            return None;
        }
        // SAFETY: `block` heads the free list, so its first word is the link written by `push_free`.
        *head = unsafe { ptr::read(block as *const usize) };
        Some(block)
    }

    /// Carves a block of `1 << class` bytes, aligned to its size (up to a page), from the top of memory,
    /// growing memory when needed. `None` when memory cannot grow.
    fn carve(&mut self, class: u32) -> Option<usize> {
        let size = 1usize.checked_shl(class)?;
        let align = size.min(MAX_ALIGN);
        loop {
            let start = self.top.checked_add(align - 1)? & !(align - 1);
            let needed = start.checked_add(size)?;
            if needed <= self.end {
                // The gap left by alignment becomes free blocks of the largest sizes that fit.
                while self.top < start {
                    let class = self.top.trailing_zeros().min((start - self.top).ilog2());
                    if class >= MIN_CLASS {
                        self.push_free(self.top, class);
                    }
                    self.top += 1 << class;
                }
                self.top = needed;
                return Some(start);
            }
            let memory_end = wasm32::memory_size(0).checked_mul(PAGE)?;
            if memory_end != self.end {
                // First use, or memory grown by someone else: continue from the end of memory.
                (self.top, self.end) = (memory_end, memory_end);
                continue;
            }
            if wasm32::memory_grow(0, (needed - self.end).div_ceil(PAGE)) == usize::MAX {
                return None;
            }
            self.end = wasm32::memory_size(0).checked_mul(PAGE)?;
        }
    }
}

unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded, and no call below re-enters the allocator.
        let state = unsafe { &mut *self.0.get() };
        let block = class_of(layout).and_then(|class| state.pop_free(class).or_else(|| state.carve(class)));
        block.map_or(ptr::null_mut(), |b| b as *mut u8)
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let state = unsafe { &mut *self.0.get() };
        if let Some(class) = class_of(layout) {
            state.push_free(block as usize, class);
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else { return ptr::null_mut() };
        if class_of(new_layout).is_some() && class_of(new_layout) == class_of(layout) {
            return block; // still fits its block
        }
        // SAFETY: the caller passes a live block of `layout`; the new one is at least `min` bytes long.
        unsafe {
            let new_block = self.alloc(new_layout);
            if !new_block.is_null() {
                ptr::copy_nonoverlapping(block, new_block, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            new_block
        }
    }
}
