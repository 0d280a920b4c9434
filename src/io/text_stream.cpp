#include "text_stream.hpp"

#include <zlib.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

#include "cellvae/error.hpp"

namespace cellvae::detail {
namespace {

// Large enough that the per-refill memmove and the zlib call overhead vanish next to parsing.
constexpr std::size_t kReadBuffer = std::size_t{1} << 22;
constexpr unsigned kZlibBuffer = 1u << 18;

std::string quoted(const std::filesystem::path& p) { return p.string(); }

std::string errno_text(int err) { return std::generic_category().message(err); }

bool starts_with_gzip_magic(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    throw InputError("cannot open " + quoted(path) + ": " + errno_text(errno));
  }
  unsigned char magic[2] = {0, 0};
  const std::size_t n = std::fread(magic, 1, 2, f);
  std::fclose(f);
  return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

}  // namespace

LineReader::LineReader(std::filesystem::path path) : path_(std::move(path)) {
  std::error_code ec;
  if (std::filesystem::is_directory(path_, ec)) {
    throw InputError(quoted(path_) + " is a folder, expected a file");
  }
  if (starts_with_gzip_magic(path_)) {
    gz_ = gzopen(path_.c_str(), "rb");
    if (!gz_) throw InputError("cannot open " + quoted(path_) + ": " + errno_text(errno));
    gzbuffer(gz_, kZlibBuffer);
  } else {
    plain_ = std::fopen(path_.c_str(), "rb");
    if (!plain_) throw InputError("cannot open " + quoted(path_) + ": " + errno_text(errno));
  }
  buffer_.resize(kReadBuffer);
}

LineReader::~LineReader() {
  if (gz_) gzclose(gz_);
  if (plain_) std::fclose(plain_);
}

void LineReader::fail(const std::string& message) const {
  throw InputError(quoted(path_) + " line " + std::to_string(line_number_) + ": " + message);
}

std::size_t LineReader::read_raw(char* out, std::size_t capacity) {
  if (plain_) {
    const std::size_t n = std::fread(out, 1, capacity, plain_);
    if (n == 0 && std::ferror(plain_)) {
      throw InputError("cannot read " + quoted(path_) + ": " + errno_text(errno));
    }
    return n;
  }
  const int n = gzread(gz_, out, static_cast<unsigned>(capacity));
  int zerr = Z_OK;
  const char* zmsg = gzerror(gz_, &zerr);
  if (n < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR)) {
    throw InputError(quoted(path_) + ": corrupt gzip data after line " +
                     std::to_string(line_number_) + " (zlib: " + zmsg + ")");
  }
  // zlib reports a stream that stops mid-way as Z_BUF_ERROR with a short (or empty) read and
  // not as a failure, so a truncated download would otherwise look like a shorter file.
  if (n == 0 && zerr == Z_BUF_ERROR) {
    throw InputError(quoted(path_) + ": gzip data ends early after line " +
                     std::to_string(line_number_) + "; the file is truncated or corrupt");
  }
  return static_cast<std::size_t>(n);
}

bool LineReader::refill() {
  if (eof_) return false;
  const std::size_t tail = end_ - begin_;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, tail);
    begin_ = 0;
    end_ = tail;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // one line fills the buffer
  const std::size_t n = read_raw(buffer_.data() + end_, buffer_.size() - end_);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

bool LineReader::next(std::string_view& line) {
  std::size_t scanned = 0;  // bytes after begin_ already known to hold no '\n'
  for (;;) {
    const char* base = buffer_.data();
    const void* nl = std::memchr(base + begin_ + scanned, '\n', end_ - begin_ - scanned);
    std::size_t stop;
    std::size_t next_begin;
    if (nl) {
      stop = static_cast<std::size_t>(static_cast<const char*>(nl) - base);
      next_begin = stop + 1;
    } else {
      scanned = end_ - begin_;
      if (refill()) continue;
      if (begin_ == end_) return false;
      stop = end_;  // last line without a final newline
      next_begin = end_;
      base = buffer_.data();
    }
    std::size_t len = stop - begin_;
    if (len > 0 && base[begin_ + len - 1] == '\r') --len;
    line = std::string_view(base + begin_, len);
    begin_ = next_begin;
    ++line_number_;
    return true;
  }
}

TextWriter::TextWriter(std::filesystem::path path, int gzip_level) : path_(std::move(path)) {
  if (gzip_level >= 0) {
    const std::string mode = "wb" + std::to_string(gzip_level > 9 ? 9 : gzip_level);
    errno = 0;
    gz_ = gzopen(path_.c_str(), mode.c_str());
    if (!gz_) fail(errno ? errno_text(errno) : "zlib could not open it");
    gzbuffer(gz_, kZlibBuffer);
  } else {
    errno = 0;
    plain_ = std::fopen(path_.c_str(), "wb");
    if (!plain_) fail(errno_text(errno));
  }
  buffer_.reserve(kFlushSize + (kFlushSize >> 2));
}

TextWriter::~TextWriter() {
  if (!gz_ && !plain_) return;
  // Only reached when close() was skipped by an exception: drop the partial file.
  if (gz_) gzclose(gz_);
  if (plain_) std::fclose(plain_);
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

void TextWriter::fail(const std::string& what) const {
  throw InputError("cannot write " + quoted(path_) + ": " + what);
}

void TextWriter::flush() {
  if (buffer_.empty()) return;
  if (gz_) {
    if (gzwrite(gz_, buffer_.data(), static_cast<unsigned>(buffer_.size())) == 0) {
      int zerr = Z_OK;
      const char* zmsg = gzerror(gz_, &zerr);
      fail(zerr == Z_ERRNO ? errno_text(errno) : zmsg);
    }
  } else if (std::fwrite(buffer_.data(), 1, buffer_.size(), plain_) != buffer_.size()) {
    fail(errno_text(errno));
  }
  buffer_.clear();
}

void TextWriter::close() {
  flush();
  if (gz_) {
    const int rc = gzclose(gz_);
    gz_ = nullptr;
    if (rc != Z_OK) fail(rc == Z_ERRNO ? errno_text(errno) : "zlib error " + std::to_string(rc));
  }
  if (plain_) {
    const int rc = std::fclose(plain_);
    plain_ = nullptr;
    if (rc != 0) fail(errno_text(errno));
  }
}

bool has_gz_extension(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name.size() >= 3 && name.compare(name.size() - 3, 3, ".gz") == 0;
}

int gzip_level_for(const std::filesystem::path& final_path, int compression) {
  if (!has_gz_extension(final_path)) return -1;
  return compression < 1 ? 1 : (compression > 9 ? 9 : compression);
}

void append_file(const std::filesystem::path& from, const std::filesystem::path& to) {
  struct File {
    std::FILE* f;
    ~File() {
      if (f) std::fclose(f);
    }
  };
  auto fail = [&](const std::string& what) {
    throw InputError("cannot write " + quoted(to) + ": " + what);
  };
  errno = 0;
  File in{std::fopen(from.c_str(), "rb")};
  if (!in.f) fail("cannot read " + quoted(from) + ": " + errno_text(errno));
  File out{std::fopen(to.c_str(), "ab")};
  if (!out.f) fail(errno_text(errno));
  std::vector<char> buf(std::size_t{1} << 20);
  for (;;) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), in.f);
    if (n > 0 && std::fwrite(buf.data(), 1, n, out.f) != n) fail(errno_text(errno));
    if (n < buf.size()) {
      if (std::ferror(in.f)) fail("cannot read " + quoted(from) + ": " + errno_text(errno));
      break;
    }
  }
  const int rc = std::fclose(out.f);
  out.f = nullptr;
  if (rc != 0) fail(errno_text(errno));
}

void append_integer(std::string& out, std::int64_t value) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}

void append_value(std::string& out, float value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "Inf" : "-Inf";
    return;
  }
  char buf[64];
  if (value == std::trunc(value)) {
    if (std::fabs(value) < 9.0e18f) {
      append_integer(out, static_cast<std::int64_t>(value));
      return;
    }
    // Whole but beyond int64: all digits, so an "integer" Matrix Market file stays integer.
    const auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
    out.append(buf, r.ptr);
    return;
  }
  const auto r = std::to_chars(buf, buf + sizeof buf, value);  // shortest exact float32 text
  out.append(buf, r.ptr);
}

std::string excerpt(std::string_view text) {
  constexpr std::size_t kMax = 60;
  if (text.size() <= kMax) return std::string(text);
  return std::string(text.substr(0, kMax)) + "...";
}

}  // namespace cellvae::detail
