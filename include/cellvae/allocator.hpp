// The C library's allocator, set up for training: freed memory kept for the next minibatch.
//
// LibTorch allocates every tensor with the C library's malloc. With glibc's defaults a
// minibatch's large tensors (128 cells x 20,000 genes: 10 MB each, several per step) are
// returned to the system when freed and taken back at the next step, and every page of them
// faults again: on the 2k x 20k benchmark an scvi epoch took ~8% longer than with the settings
// below (bench/train.sh; scvi-tools users get the same effect from jemalloc or tcmalloc).
#pragma once

namespace cellvae {

/// glibc: allocations up to 32 MB come from the heap (M_MMAP_THRESHOLD), up to 256 MB of freed
/// memory at its top stays mapped for reuse (M_TRIM_THRESHOLD), and it grows in 64 MB steps
/// (M_TOP_PAD; untouched pages cost no memory). Peak memory grows by at most those amounts.
/// Does nothing when any of MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or MALLOC_TOP_PAD_
/// is set (the user's choice wins), and on other C libraries. Call once, early in main().
void keep_freed_memory_for_reuse();

}  // namespace cellvae
