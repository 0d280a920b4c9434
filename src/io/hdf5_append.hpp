// A 1-D HDF5 dataset written in pieces whose total length is not known in advance (the CSR
// buffers of a streamed X). Internal to cellvae_io.
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <string>
#include <vector>

#include "hdf5_handles.hpp"

namespace cellvae::h5 {

/// Appends values to the dataset `name` in `loc` (a group that must outlive this object).
/// Values are handed to HDF5 in whole chunks of 1 MiB, so every chunk is compressed once and
/// never read back; at most one partial chunk is held in memory between append() calls.
/// The dataset is created at the first whole chunk as an extendible (unlimited, chunked,
/// gzip when compression > 0) dataset; a total below one chunk is written by finish() with
/// write_numbers, exactly as a whole-array write would lay it out.
/// Call every method while holding lock_library(); they throw Failure.
template <class T>
class AppendableArray {
 public:
  /// compression: gzip level, 0 = none. threads: as in write_numbers (chunks of one append
  /// are compressed in parallel).
  AppendableArray(hid_t loc, std::string name, int compression, int threads);

  void append(const T* values, std::size_t n);
  /// Writes what is pending and returns the dataset; the object is spent afterwards.
  Id finish();
  /// Elements appended so far.
  std::size_t size() const { return written_ + pending_.size(); }
  /// Bytes held for the partial chunk (at most one chunk, 1 MiB).
  std::size_t buffered_bytes() const { return pending_.capacity() * sizeof(T); }
  /// Elements per chunk.
  static constexpr std::size_t chunk_elements() { return (std::size_t{1} << 20) / sizeof(T); }

 private:
  void write_whole_chunks(const T* values, std::size_t n);
  void write_slab(const T* values, std::size_t n);

  hid_t loc_;
  std::string name_;
  int compression_;
  int threads_;
  Id dset_;
  std::size_t written_ = 0;  // elements already in the dataset (a multiple of the chunk)
  std::vector<T> pending_;   // the partial chunk after them
};

}  // namespace cellvae::h5
