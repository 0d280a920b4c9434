// Line-oriented reading and buffered writing of text files that may be gzip-compressed: the
// layer under the Matrix Market, 10x folder and CSV/TSV readers. Internal to cellvae_io.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

struct gzFile_s;  // zlib's handle; zlib.h stays out of this header

namespace cellvae::detail {

/// Reads a file one line at a time through a large buffer. Whether the file is gzip-compressed
/// is decided by its first two bytes (0x1f 0x8b), not its name, so a plain "matrix.mtx.gz" or a
/// compressed "genes.tsv" read correctly. Line endings "\n" and "\r\n" are both removed.
/// Every error is an InputError naming the file (and the line, where there is one).
class LineReader {
 public:
  explicit LineReader(std::filesystem::path path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  /// The next line, without its line ending; valid until the next call. False at end of file
  /// (a final line without "\n" is still returned). Throws on truncated or corrupt gzip data.
  bool next(std::string_view& line);

  /// 1-based number of the line last returned by next() (0 before the first).
  std::int64_t line_number() const { return line_number_; }
  const std::filesystem::path& path() const { return path_; }
  bool gzipped() const { return gz_ != nullptr; }

  /// Throws InputError "<path> line <n>: <message>" for the line last returned.
  [[noreturn]] void fail(const std::string& message) const;

 private:
  /// Moves the unread tail to the front and reads more; false when nothing more came.
  bool refill();
  std::size_t read_raw(char* out, std::size_t capacity);

  std::filesystem::path path_;
  std::FILE* plain_ = nullptr;
  gzFile_s* gz_ = nullptr;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // first unread byte in buffer_
  std::size_t end_ = 0;    // one past the last valid byte in buffer_
  bool eof_ = false;
  std::int64_t line_number_ = 0;
};

/// Writes text to a plain or gzip-compressed file through an in-memory buffer. Append to
/// buffer() and call maybe_flush() now and then, or use write(). close() reports write errors
/// (a full disk shows up there); the destructor closes silently when close() was not reached
/// because an exception is unwinding.
class TextWriter {
 public:
  /// gzip_level: -1 writes plain text, 0..9 writes gzip with that compression level.
  TextWriter(std::filesystem::path path, int gzip_level);
  ~TextWriter();
  TextWriter(const TextWriter&) = delete;
  TextWriter& operator=(const TextWriter&) = delete;

  std::string& buffer() { return buffer_; }
  void write(std::string_view text) {
    buffer_.append(text);
    maybe_flush();
  }
  void maybe_flush() {
    if (buffer_.size() >= kFlushSize) flush();
  }
  void close();
  /// Bytes held in the write buffer (about 1 MiB, whatever the amount written).
  std::size_t buffered_bytes() const { return buffer_.capacity(); }

 private:
  static constexpr std::size_t kFlushSize = 1 << 20;
  void flush();
  [[noreturn]] void fail(const std::string& what) const;

  std::filesystem::path path_;
  std::FILE* plain_ = nullptr;
  gzFile_s* gz_ = nullptr;
  std::string buffer_;
};

/// True when `path` ends in ".gz", or is write_dataset's temporary name for such a path (the
/// writers compress by name; the readers look at the bytes).
bool has_gz_extension(const std::filesystem::path& path);

/// The TextWriter gzip level for writing a table whose final name is `final_path` (writers
/// work on temporary names, which hide the ".gz"): `compression` (0 counts as 1, since the name
/// asks for gzip) when the name ends in ".gz", otherwise -1 (plain text).
int gzip_level_for(const std::filesystem::path& final_path, int compression);

/// Appends the bytes of file `from` to the end of file `to`, through a fixed 1 MiB buffer.
/// Concatenated gzip members form one valid gzip file (RFC 1952; zlib, Python, R read it
/// whole), which is how a streamed Matrix Market file gets its header in front of its entries.
/// Throws InputError naming `to` on failure.
void append_file(const std::filesystem::path& from, const std::filesystem::path& to);

/// Appends a float the way every text writer here prints values: whole numbers as integers
/// ("100000", never "1e+05"), others in the shortest form that reads back as the same float32,
/// NaN as "NaN" and infinities as "Inf" / "-Inf" (what R and pandas read).
void append_value(std::string& out, float value);

/// Appends a non-negative or negative integer in decimal.
void append_integer(std::string& out, std::int64_t value);

/// The line shortened for an error message (at most ~60 characters, with "..." when cut).
std::string excerpt(std::string_view text);

}  // namespace cellvae::detail
