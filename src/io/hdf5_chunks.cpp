#include "hdf5_chunks.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "hdf5_handles.hpp"

namespace cellvae::h5 {

unsigned resolve_threads(int threads) {
  if (threads > 0) return static_cast<unsigned>(threads);
  return std::clamp(std::thread::hardware_concurrency(), 1u, 16u);
}

// ---- parallel reading of gzip chunks ----------------------------------------------------------
// HDF5 (serial build) inflates the chunks of a dataset one after another; for a large X that is
// most of the reading time. For 1-D chunked datasets with at most a deflate filter we instead
// look up each chunk's file address with HDF5, then pread and inflate the chunks on several
// threads straight into the output (no HDF5 calls happen off the calling thread).

namespace {

enum class Scalar { i8, u8, i16, u16, i32, u32, i64, u64, f32, f64 };

/// The little-endian standard numeric type `ftype` is, if any.
std::optional<Scalar> standard_scalar(hid_t ftype) {
  const std::pair<hid_t, Scalar> table[] = {
      {H5T_STD_I8LE, Scalar::i8},   {H5T_STD_U8LE, Scalar::u8},   {H5T_STD_I16LE, Scalar::i16},
      {H5T_STD_U16LE, Scalar::u16}, {H5T_STD_I32LE, Scalar::i32}, {H5T_STD_U32LE, Scalar::u32},
      {H5T_STD_I64LE, Scalar::i64}, {H5T_STD_U64LE, Scalar::u64}, {H5T_IEEE_F32LE, Scalar::f32},
      {H5T_IEEE_F64LE, Scalar::f64}};
  for (const auto& [type, scalar] : table)
    if (H5Tequal(ftype, type) > 0) return scalar;
  return std::nullopt;
}

std::size_t scalar_size(Scalar s) {
  switch (s) {
    case Scalar::i8:
    case Scalar::u8:
      return 1;
    case Scalar::i16:
    case Scalar::u16:
      return 2;
    case Scalar::i32:
    case Scalar::u32:
    case Scalar::f32:
      return 4;
    default:
      return 8;
  }
}

template <class T>
constexpr Scalar scalar_of();
template <>
constexpr Scalar scalar_of<float>() {
  return Scalar::f32;
}
template <>
constexpr Scalar scalar_of<double>() {
  return Scalar::f64;
}
template <>
constexpr Scalar scalar_of<std::int32_t>() {
  return Scalar::i32;
}
template <>
constexpr Scalar scalar_of<std::int64_t>() {
  return Scalar::i64;
}
template <>
constexpr Scalar scalar_of<std::uint8_t>() {
  return Scalar::u8;
}

/// One value converted as HDF5 converts it: out-of-range values saturate (so that a corrupt
/// int64 index still fails the range check instead of wrapping into range).
template <class T, class S>
T convert_value(S v) {
  using Limits = std::numeric_limits<T>;
  if constexpr (std::is_integral_v<T> && std::is_integral_v<S>) {
    if constexpr (std::is_unsigned_v<S>) {
      if (v > static_cast<std::uint64_t>(Limits::max())) return Limits::max();
      return static_cast<T>(v);
    } else {
      const auto w = static_cast<std::int64_t>(v);
      if (w > static_cast<std::int64_t>(Limits::max())) return Limits::max();
      if (w < static_cast<std::int64_t>(Limits::min())) return Limits::min();
      return static_cast<T>(w);
    }
  } else if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T{0};
    if (v >= static_cast<S>(Limits::max())) return Limits::max();
    if (v <= static_cast<S>(Limits::min())) return Limits::min();
    return static_cast<T>(v);
  } else {
    return static_cast<T>(v);
  }
}

template <class S, class T>
void convert_block(const unsigned char* src, T* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    S v;
    std::memcpy(&v, src + i * sizeof(S), sizeof(S));
    dst[i] = convert_value<T>(v);
  }
}

template <class T>
void convert_scalars(Scalar s, const unsigned char* src, T* dst, std::size_t n) {
  switch (s) {
    case Scalar::i8:
      convert_block<std::int8_t>(src, dst, n);
      break;
    case Scalar::u8:
      convert_block<std::uint8_t>(src, dst, n);
      break;
    case Scalar::i16:
      convert_block<std::int16_t>(src, dst, n);
      break;
    case Scalar::u16:
      convert_block<std::uint16_t>(src, dst, n);
      break;
    case Scalar::i32:
      convert_block<std::int32_t>(src, dst, n);
      break;
    case Scalar::u32:
      convert_block<std::uint32_t>(src, dst, n);
      break;
    case Scalar::i64:
      convert_block<std::int64_t>(src, dst, n);
      break;
    case Scalar::u64:
      convert_block<std::uint64_t>(src, dst, n);
      break;
    case Scalar::f32:
      convert_block<float>(src, dst, n);
      break;
    case Scalar::f64:
      convert_block<double>(src, dst, n);
      break;
  }
}

bool pread_all(int fd, unsigned char* buf, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    const ssize_t got = ::pread(fd, buf, size, static_cast<off_t>(offset));
    if (got <= 0) return false;
    buf += got;
    size -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
  return true;
}

/// Closes a POSIX file descriptor on scope exit.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

template <class T>
bool read_chunks_parallel(hid_t dset, hid_t ftype, T* out, std::size_t n, unsigned threads) {
  const std::optional<Scalar> src = standard_scalar(ftype);
  if (!src || threads < 2 || n * scalar_size(*src) < (std::size_t{1} << 20)) return false;
  Id dcpl(H5Dget_create_plist(dset));
  if (H5Pget_layout(dcpl) != H5D_CHUNKED || dims(dset).size() != 1) return false;
  const int n_filters = H5Pget_nfilters(dcpl);
  bool deflate = false;
  if (n_filters == 1) {
    unsigned flags = 0, config = 0;
    std::size_t n_cd = 0;
    deflate =
        H5Pget_filter2(dcpl, 0, &flags, &n_cd, nullptr, 0, nullptr, &config) == H5Z_FILTER_DEFLATE;
    if (!deflate) return false;
  } else if (n_filters != 0) {
    return false;
  }
  hsize_t chunk = 0;
  if (H5Pget_chunk(dcpl, 1, &chunk) != 1 || chunk == 0) return false;
  // Chunk addresses are relative to the superblock, which a user block would move.
  {
    Id file(H5Iget_file_id(dset));
    Id fcpl(H5Fget_create_plist(file));
    hsize_t userblock = 0;
    if (H5Pget_userblock(fcpl, &userblock) < 0 || userblock != 0) return false;
  }
  const std::size_t n_chunks = (n + chunk - 1) / chunk;
  std::vector<haddr_t> addr(n_chunks);
  std::vector<hsize_t> size(n_chunks);
  std::vector<unsigned> mask(n_chunks);
  for (std::size_t c = 0; c < n_chunks; ++c) {
    const hsize_t offset = c * chunk;
    if (H5Dget_chunk_info_by_coord(dset, &offset, &mask[c], &addr[c], &size[c]) < 0 ||
        addr[c] == HADDR_UNDEF)
      return false;  // unallocated chunks hold the fill value: let HDF5 handle them
  }
  const ssize_t name_len = H5Fget_name(dset, nullptr, 0);
  if (name_len <= 0) return false;
  std::string file_name(static_cast<std::size_t>(name_len) + 1, '\0');
  H5Fget_name(dset, file_name.data(), file_name.size());
  file_name.resize(static_cast<std::size_t>(name_len));
  Fd fd{::open(file_name.c_str(), O_RDONLY)};
  if (fd.fd < 0) return false;

  const std::size_t elem = scalar_size(*src);
  const std::size_t chunk_bytes = static_cast<std::size_t>(chunk) * elem;
  const bool same = *src == scalar_of<T>();
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    std::vector<unsigned char> comp, raw;
    try {
      for (std::size_t c = next++; c < n_chunks && !failed; c = next++) {
        const std::size_t first = c * static_cast<std::size_t>(chunk);
        const std::size_t count = std::min<std::size_t>(chunk, n - first);
        comp.resize(static_cast<std::size_t>(size[c]));
        if (!pread_all(fd.fd, comp.data(), comp.size(), addr[c])) {
          failed = true;
          break;
        }
        const unsigned char* bytes = comp.data();
        if (deflate && !(mask[c] & 1u)) {  // mask bit 0 set: the filter was skipped
          // Inflate straight into the output when no conversion or cut is needed.
          const bool direct = same && count == chunk;
          unsigned char* target = reinterpret_cast<unsigned char*>(out + first);
          if (!direct) {
            raw.resize(chunk_bytes);
            target = raw.data();
          }
          uLongf len = chunk_bytes;
          if (::uncompress(target, &len, comp.data(), comp.size()) != Z_OK || len != chunk_bytes) {
            failed = true;
            break;
          }
          if (direct) continue;
          bytes = target;
        } else if (comp.size() < count * elem) {
          failed = true;
          break;
        }
        if (same)
          std::memcpy(out + first, bytes, count * sizeof(T));
        else
          convert_scalars(*src, bytes, out + first, count);
      }
    } catch (...) {
      failed = true;
    }
  };
  const unsigned n_threads = static_cast<unsigned>(std::min<std::size_t>(threads, n_chunks));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < n_threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return !failed;
}

template bool read_chunks_parallel<float>(hid_t, hid_t, float*, std::size_t, unsigned);
template bool read_chunks_parallel<double>(hid_t, hid_t, double*, std::size_t, unsigned);
template bool read_chunks_parallel<std::int32_t>(hid_t, hid_t, std::int32_t*, std::size_t,
                                                 unsigned);
template bool read_chunks_parallel<std::int64_t>(hid_t, hid_t, std::int64_t*, std::size_t,
                                                 unsigned);
template bool read_chunks_parallel<std::uint8_t>(hid_t, hid_t, std::uint8_t*, std::size_t,
                                                 unsigned);

// ---- parallel writing of gzip chunks ----------------------------------------------------------

template <class T>
bool write_chunks_parallel(hid_t dset, hid_t mem_type, const T* values, std::size_t n,
                           unsigned threads, std::size_t first_element) {
  if (threads < 2 || n * sizeof(T) < (std::size_t{1} << 20)) return false;
  // Chunks go to disk as they are in memory: only when memory is the file's byte order.
  Id file_type(H5Dget_type(dset));
  if (H5Tequal(mem_type, file_type) <= 0) return false;
  Id dcpl(H5Dget_create_plist(dset));
  hsize_t chunk = 0;
  unsigned flags = 0, config = 0, level = 0;
  std::size_t n_cd = 1;
  if (H5Pget_layout(dcpl) != H5D_CHUNKED || H5Pget_chunk(dcpl, 1, &chunk) != 1 ||
      H5Pget_nfilters(dcpl) != 1 ||
      H5Pget_filter2(dcpl, 0, &flags, &n_cd, &level, 0, nullptr, &config) != H5Z_FILTER_DEFLATE)
    return false;
  if (first_element % chunk != 0) return false;
  const std::size_t n_chunks = (n + chunk - 1) / chunk;
  const std::size_t chunk_bytes = static_cast<std::size_t>(chunk) * sizeof(T);
  const std::size_t batch = std::size_t{4} * threads;
  std::vector<std::vector<unsigned char>> out(batch);
  for (std::size_t first = 0; first < n_chunks; first += batch) {
    const std::size_t count = std::min(batch, n_chunks - first);
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    auto work = [&] {
      std::vector<unsigned char> edge;
      try {
        for (std::size_t i = next++; i < count && !failed; i = next++) {
          const std::size_t c = first + i;
          const std::size_t begin = c * static_cast<std::size_t>(chunk);
          const std::size_t len = std::min<std::size_t>(chunk, n - begin);
          auto src = reinterpret_cast<const unsigned char*>(values + begin);
          if (len < chunk) {  // HDF5 stores edge chunks full size; pad with zeros
            edge.assign(chunk_bytes, 0);
            std::memcpy(edge.data(), src, len * sizeof(T));
            src = edge.data();
          }
          uLongf size = ::compressBound(chunk_bytes);
          out[i].resize(size);
          if (::compress2(out[i].data(), &size, src, chunk_bytes, static_cast<int>(level)) != Z_OK)
            failed = true;
          out[i].resize(size);
        }
      } catch (...) {
        failed = true;
      }
    };
    const unsigned n_threads = static_cast<unsigned>(std::min<std::size_t>(threads, count));
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < n_threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (failed) throw Failure("cannot compress " + name_of(dset));
    for (std::size_t i = 0; i < count; ++i) {
      const hsize_t offset = first_element + (first + i) * chunk;
      if (H5Dwrite_chunk(dset, H5P_DEFAULT, 0, &offset, out[i].size(), out[i].data()) < 0)
        throw Failure("cannot write " + name_of(dset));
    }
  }
  return true;
}

template bool write_chunks_parallel<float>(hid_t, hid_t, const float*, std::size_t, unsigned,
                                           std::size_t);
template bool write_chunks_parallel<double>(hid_t, hid_t, const double*, std::size_t, unsigned,
                                            std::size_t);
template bool write_chunks_parallel<std::int8_t>(hid_t, hid_t, const std::int8_t*, std::size_t,
                                                 unsigned, std::size_t);
template bool write_chunks_parallel<std::int16_t>(hid_t, hid_t, const std::int16_t*, std::size_t,
                                                  unsigned, std::size_t);
template bool write_chunks_parallel<std::int32_t>(hid_t, hid_t, const std::int32_t*, std::size_t,
                                                  unsigned, std::size_t);
template bool write_chunks_parallel<std::int64_t>(hid_t, hid_t, const std::int64_t*, std::size_t,
                                                  unsigned, std::size_t);

}  // namespace cellvae::h5
