// Parallel gzip chunk I/O for large 1-D HDF5 datasets: HDF5 (serial build) inflates and
// deflates the chunks of a dataset one after another on the calling thread, which for a large X
// is most of the reading or writing time. These helpers move the zlib work onto several threads
// while every HDF5 call stays on the calling thread (which holds h5::lock_library()). Both
// return false when a dataset does not qualify, and the caller falls back to H5Dread/H5Dwrite.
#pragma once

#include <hdf5.h>

#include <cstddef>

namespace cellvae::h5 {

/// The number of threads a `threads` option means: itself when positive, otherwise all
/// hardware threads, at most 16.
unsigned resolve_threads(int threads);

/// Reads all n elements of `dset` into `out` on `threads` threads. Returns false, having
/// written nothing reliable, when the dataset does not qualify (layout, filters, type, file
/// driver) or anything fails; the caller then reads it with H5Dread.
/// Qualifies: 1-D, chunked, no filter or only deflate, a little-endian standard integer or
/// float type, at least 1 MiB, every chunk allocated, no user block. Instantiated for float,
/// double, int32, int64 and uint8.
template <class T>
bool read_chunks_parallel(hid_t dset, hid_t ftype, T* out, std::size_t n, unsigned threads);

/// Writes a 1-D gzip-chunked dataset by compressing its chunks on `threads` threads and
/// handing them to HDF5 with H5Dwrite_chunk, a batch at a time (HDF5 itself compresses on one
/// thread). `mem_type` is the HDF5 memory type of T; the chunks are written as they lie in
/// memory, so only when it equals the dataset's type. Returns false, having written nothing,
/// when the dataset does not qualify. Throws Failure when compressing or writing fails.
/// `values` go to elements [first, first + n) of the dataset; `first` must be a multiple of the
/// chunk size (appending writers pass whole chunks at the current end, see AppendableArray).
/// Instantiated for float, double, int8, int16, int32 and int64.
template <class T>
bool write_chunks_parallel(hid_t dset, hid_t mem_type, const T* values, std::size_t n,
                           unsigned threads, std::size_t first = 0);

}  // namespace cellvae::h5
