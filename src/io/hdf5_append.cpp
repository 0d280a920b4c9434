#include "hdf5_append.hpp"

#include <algorithm>

#include "hdf5_chunks.hpp"

namespace cellvae::h5 {

template <class T>
AppendableArray<T>::AppendableArray(hid_t loc, std::string name, int compression, int threads)
    : loc_(loc), name_(std::move(name)), compression_(compression), threads_(threads) {}

template <class T>
void AppendableArray<T>::append(const T* values, std::size_t n) {
  constexpr std::size_t chunk = chunk_elements();
  std::size_t used = 0;
  if (!pending_.empty()) {  // complete the partial chunk first
    used = std::min(n, chunk - pending_.size());
    pending_.insert(pending_.end(), values, values + used);
    if (pending_.size() < chunk) return;
    write_whole_chunks(pending_.data(), chunk);
    pending_.clear();
  }
  // Whole chunks go straight from the caller's buffer: no copy, and no growth with n.
  const std::size_t whole = (n - used) / chunk * chunk;
  if (whole > 0) write_whole_chunks(values + used, whole);
  used += whole;
  if (used < n) {
    if (pending_.capacity() < chunk) pending_.reserve(chunk);
    pending_.insert(pending_.end(), values + used, values + n);
  }
}

template <class T>
void AppendableArray<T>::write_whole_chunks(const T* values, std::size_t n) {
  if (!dset_.valid()) {
    const hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = chunk_elements();
    Id space(H5Screate_simple(1, &zero, &unlimited));
    Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
    if (!space.valid() || !dcpl.valid() || H5Pset_chunk(dcpl, 1, &chunk) < 0 ||
        (compression_ > 0 &&
         H5Pset_deflate(dcpl, static_cast<unsigned>(std::min(compression_, 9))) < 0))
      throw Failure("cannot set up dataset '" + name_ + "' in " + name_of(loc_));
    dset_ =
        Id(H5Dcreate2(loc_, name_.c_str(), file_type<T>(), space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    if (!dset_.valid()) throw Failure("cannot create dataset '" + name_ + "' in " + name_of(loc_));
  }
  const hsize_t size = written_ + n;
  if (H5Dset_extent(dset_, &size) < 0) throw Failure("cannot extend " + name_of(dset_));
  if (threads_ == 1 ||
      !write_chunks_parallel(dset_, native<T>(), values, n, resolve_threads(threads_), written_))
    write_slab(values, n);
  written_ = size;
}

template <class T>
void AppendableArray<T>::write_slab(const T* values, std::size_t n) {
  const hsize_t start = written_, count = n;
  Id file_space(H5Dget_space(dset_));
  Id mem_space(H5Screate_simple(1, &count, nullptr));
  if (!file_space.valid() || !mem_space.valid() ||
      H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &start, nullptr, &count, nullptr) < 0 ||
      H5Dwrite(dset_, native<T>(), mem_space, file_space, H5P_DEFAULT, values) < 0)
    throw Failure("cannot write " + name_of(dset_));
}

template <class T>
Id AppendableArray<T>::finish() {
  if (!dset_.valid()) {
    Id dset = write_numbers(loc_, name_, pending_.data(), {pending_.size()}, compression_, 1);
    pending_ = {};
    return dset;
  }
  if (!pending_.empty()) {
    const hsize_t size = written_ + pending_.size();
    if (H5Dset_extent(dset_, &size) < 0) throw Failure("cannot extend " + name_of(dset_));
    write_slab(pending_.data(), pending_.size());  // the partial last chunk, through HDF5's filter
    written_ = size;
  }
  pending_ = {};
  return std::move(dset_);
}

template class AppendableArray<float>;
template class AppendableArray<std::int32_t>;
template class AppendableArray<std::int64_t>;

}  // namespace cellvae::h5
