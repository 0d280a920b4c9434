#include "matrix_market.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>
#include <vector>

#include "cellvae/error.hpp"
#include "text_stream.hpp"

namespace cellvae::detail {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

void skip_space(const char*& p, const char* end) {
  while (p != end && is_space(*p)) ++p;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  const char* p = line.data();
  const char* end = p + line.size();
  for (;;) {
    skip_space(p, end);
    if (p == end) return words;
    const char* start = p;
    while (p != end && !is_space(*p)) ++p;
    words.emplace_back(start, static_cast<std::size_t>(p - start));
  }
}

constexpr const char* kBannerForm =
    "'%%MatrixMarket matrix coordinate integer|real|pattern general'";

MtxField parse_banner(LineReader& in, std::string_view line) {
  const auto words = split_words(line);
  if (words.empty() || lower(words[0]) != "%%matrixmarket") {
    in.fail("not a Matrix Market file: expected a first line like " + std::string(kBannerForm) +
            ", got '" + excerpt(line) + "'");
  }
  if (words.size() != 5) {
    in.fail("expected a header of 5 words like " + std::string(kBannerForm) + ", got '" +
            excerpt(line) + "'");
  }
  if (lower(words[1]) != "matrix") {
    in.fail("unsupported object '" + std::string(words[1]) + "'; expected 'matrix'");
  }
  const std::string format = lower(words[2]);
  if (format == "array") {
    in.fail("dense 'array' Matrix Market files are not supported; expected 'coordinate'");
  }
  if (format != "coordinate") {
    in.fail("unknown format '" + std::string(words[2]) + "'; expected 'coordinate'");
  }
  const std::string field = lower(words[3]);
  MtxField result;
  if (field == "integer") {
    result = MtxField::integer;
  } else if (field == "real" || field == "double") {
    result = MtxField::real;
  } else if (field == "pattern") {
    result = MtxField::pattern;
  } else {
    in.fail("unsupported value type '" + std::string(words[3]) +
            "'; expected integer, real or pattern");
  }
  const std::string symmetry = lower(words[4]);
  if (symmetry != "general") {
    in.fail("unsupported symmetry '" + std::string(words[4]) +
            "'; only 'general' is read (count matrices are not symmetric)");
  }
  return result;
}

// One unsigned or signed integer token followed by white space or the end of the line.
bool take_integer(const char*& p, const char* end, std::int64_t& value) {
  skip_space(p, end);
  if (p != end && *p == '+') ++p;
  const auto r = std::from_chars(p, end, value);
  if (r.ec != std::errc() || (r.ptr != end && !is_space(*r.ptr))) return false;
  p = r.ptr;
  return true;
}

bool take_double(const char*& p, const char* end, double& value) {
  skip_space(p, end);
  if (p != end && *p == '+') ++p;
  const auto r = std::from_chars(p, end, value);
  if (r.ec != std::errc() || (r.ptr != end && !is_space(*r.ptr))) return false;
  p = r.ptr;
  return true;
}

// The token at p, for messages.
std::string token_at(const char* p, const char* end) {
  skip_space(p, end);
  const char* start = p;
  while (p != end && !is_space(*p)) ++p;
  return std::string(start, p);
}

struct SizeLine {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t entries = 0;
  std::int64_t line_number = 0;
};

SizeLine parse_size_line(LineReader& in, std::string_view line) {
  SizeLine size;
  size.line_number = in.line_number();
  const char* p = line.data();
  const char* end = p + line.size();
  if (!take_integer(p, end, size.rows) || !take_integer(p, end, size.cols) ||
      !take_integer(p, end, size.entries) || (skip_space(p, end), p != end)) {
    in.fail("expected the size line 'rows columns entries' (3 whole numbers), got '" +
            excerpt(line) + "'");
  }
  constexpr std::int64_t kMaxDim = std::numeric_limits<std::int32_t>::max();
  if (size.rows < 0 || size.cols < 0 || size.entries < 0) {
    in.fail("negative number on the size line '" + excerpt(line) + "'");
  }
  if (size.rows > kMaxDim || size.cols > kMaxDim) {
    in.fail("matrix size " + std::to_string(size.rows) + " x " + std::to_string(size.cols) +
            " exceeds the limit of " + std::to_string(kMaxDim) + " rows or columns");
  }
  return size;
}

// Sorts each row's entries by column and sums repeated columns; returns how many were merged.
// Only reached for files whose entries are not already in order within each row.
std::int64_t sort_and_merge_rows(CsrMatrix& m) {
  std::vector<std::pair<std::int32_t, float>> row;
  std::int64_t out = 0;
  std::int64_t merged = 0;
  std::int64_t start = 0;
  for (std::int64_t i = 0; i < m.n_rows; ++i) {
    const std::int64_t stop = m.indptr[i + 1];
    row.clear();
    for (std::int64_t k = start; k < stop; ++k) row.emplace_back(m.indices[k], m.data[k]);
    std::stable_sort(row.begin(), row.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::int64_t row_begin = out;
    for (std::size_t k = 0; k < row.size(); ++k) {
      if (out > row_begin && m.indices[out - 1] == row[k].first) {
        m.data[out - 1] += row[k].second;
        ++merged;
      } else {
        m.indices[out] = row[k].first;
        m.data[out] = row[k].second;
        ++out;
      }
    }
    // Duplicates that cancel out leave zeros, which canonical matrices do not store.
    std::int64_t kept = row_begin;
    for (std::int64_t k = row_begin; k < out; ++k) {
      if (m.data[k] != 0.0f) {
        m.indices[kept] = m.indices[k];
        m.data[kept] = m.data[k];
        ++kept;
      }
    }
    out = kept;
    start = stop;
    m.indptr[i + 1] = out;
  }
  m.indices.resize(static_cast<std::size_t>(out));
  m.data.resize(static_cast<std::size_t>(out));
  return merged;
}

bool rows_sorted_unique(const CsrMatrix& m) {
  for (std::int64_t i = 0; i < m.n_rows; ++i) {
    for (std::int64_t k = m.indptr[i] + 1; k < m.indptr[i + 1]; ++k) {
      if (m.indices[k] <= m.indices[k - 1]) return false;
    }
  }
  return true;
}

}  // namespace

const char* to_string(MtxField field) {
  switch (field) {
    case MtxField::integer:
      return "integer";
    case MtxField::real:
      return "real";
    case MtxField::pattern:
      return "pattern";
  }
  return "integer";
}

MtxReadResult read_matrix_market(const std::filesystem::path& path, const MtxReadOptions& options) {
  LineReader in(path);
  std::string_view line;
  if (!in.next(line)) {
    throw InputError(path.string() + " is empty; expected a Matrix Market file starting with " +
                     kBannerForm);
  }
  MtxReadResult result;
  result.field = parse_banner(in, line);

  bool have_size = false;
  while (in.next(line)) {
    const char* p = line.data();
    const char* end = p + line.size();
    skip_space(p, end);
    if (p == end || *p == '%') continue;
    have_size = true;
    break;
  }
  if (!have_size) {
    throw InputError(path.string() + " ends after line " + std::to_string(in.line_number()) +
                     " without the size line 'rows columns entries'");
  }
  const SizeLine size = parse_size_line(in, line);
  result.file_rows = size.rows;
  result.file_cols = size.cols;

  // The CSR rows ("major") are file rows, or file columns when transposing.
  const std::int64_t n_major = options.transpose ? size.cols : size.rows;
  const std::int64_t n_minor = options.transpose ? size.rows : size.cols;
  std::vector<std::int32_t> majors;
  std::vector<std::int32_t> minors;
  std::vector<float> values;
  // A lying size line must not trigger a huge allocation; vectors grow past this if needed.
  const auto reserve = static_cast<std::size_t>(std::min<std::int64_t>(size.entries, 1 << 25));
  majors.reserve(reserve);
  minors.reserve(reserve);
  values.reserve(reserve);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(n_major) + 1, 0);
  bool majors_sorted = true;
  std::int32_t last_major = 0;

  const bool pattern = result.field == MtxField::pattern;
  const bool integer = result.field == MtxField::integer;
  const char* expected =
      pattern ? "expected 'row column' (2 numbers)" : "expected 'row column value' (3 numbers)";
  std::int64_t n_entries = 0;
  while (in.next(line)) {
    const char* p = line.data();
    const char* end = p + line.size();
    const char* q = p;
    skip_space(q, end);
    if (q == end || *q == '%') continue;  // blank lines and stray comments carry no entry
    if (n_entries == size.entries) {
      in.fail("more entries than the " + std::to_string(size.entries) + " declared on line " +
              std::to_string(size.line_number) + " ('" + excerpt(line) + "')");
    }
    ++n_entries;
    std::int64_t row = 0;
    std::int64_t col = 0;
    if (!take_integer(p, end, row) || !take_integer(p, end, col)) {
      in.fail(std::string(expected) + ", got '" + excerpt(line) + "'");
    }
    if (row < 1 || row > size.rows) {
      in.fail("row index " + std::to_string(row) + " is outside 1.." + std::to_string(size.rows) +
              " (the size line declares " + std::to_string(size.rows) + " rows)");
    }
    if (col < 1 || col > size.cols) {
      in.fail("column index " + std::to_string(col) + " is outside 1.." +
              std::to_string(size.cols) + " (the size line declares " + std::to_string(size.cols) +
              " columns)");
    }
    float value = 1.0f;
    if (!pattern) {
      skip_space(p, end);
      if (p == end) in.fail(std::string(expected) + ", got '" + excerpt(line) + "'");
      if (integer) {
        std::int64_t v = 0;
        const char* before = p;
        if (!take_integer(p, end, v)) {
          in.fail("value '" + token_at(before, end) +
                  "' is not a whole number (the header declares 'integer')");
        }
        value = static_cast<float>(v);
        if (static_cast<std::int64_t>(value) != v) ++result.inexact_integers;
      } else {
        double v = 0;
        const char* before = p;
        if (!take_double(p, end, v)) {
          in.fail("value '" + token_at(before, end) + "' is not a number");
        }
        value = static_cast<float>(v);
        if (!std::isfinite(value)) {
          in.fail("value '" + token_at(before, end) +
                  (std::isfinite(v) ? "' is beyond the float32 range" : "' is not finite"));
        }
      }
    }
    skip_space(p, end);
    if (p != end) in.fail(std::string(expected) + ", got '" + excerpt(line) + "'");
    if (value == 0.0f) {
      ++result.explicit_zeros;
      continue;
    }
    const auto major = static_cast<std::int32_t>((options.transpose ? col : row) - 1);
    const auto minor = static_cast<std::int32_t>((options.transpose ? row : col) - 1);
    if (major < last_major) majors_sorted = false;
    last_major = major;
    majors.push_back(major);
    minors.push_back(minor);
    values.push_back(value);
    ++counts[static_cast<std::size_t>(major) + 1];
  }
  if (n_entries < size.entries) {
    throw InputError(path.string() + " ends at line " + std::to_string(in.line_number()) +
                     " after " + std::to_string(n_entries) + " of the " +
                     std::to_string(size.entries) + " entries declared on line " +
                     std::to_string(size.line_number) + " (is the file truncated?)");
  }
  result.entries = n_entries;

  CsrMatrix& m = result.matrix;
  m.n_rows = n_major;
  m.n_cols = n_minor;
  m.indptr.assign(counts.begin(), counts.end());
  for (std::size_t i = 1; i < m.indptr.size(); ++i) m.indptr[i] += m.indptr[i - 1];
  if (majors_sorted) {
    // The usual case (10x files are sorted by column): entries are already in CSR order.
    m.indices = std::move(minors);
    m.data = std::move(values);
  } else {
    m.indices.resize(minors.size());
    m.data.resize(values.size());
    std::vector<std::int64_t> next(m.indptr.begin(), m.indptr.end() - 1);
    for (std::size_t k = 0; k < majors.size(); ++k) {
      const std::int64_t at = next[static_cast<std::size_t>(majors[k])]++;
      m.indices[static_cast<std::size_t>(at)] = minors[k];
      m.data[static_cast<std::size_t>(at)] = values[k];
    }
  }
  if (!rows_sorted_unique(m)) result.duplicates_summed = sort_and_merge_rows(m);
  return result;
}

void write_matrix_market(const CsrMatrix& m, const std::filesystem::path& path,
                         const MtxWriteOptions& options) {
  MtxStreamWriter out(path, options, m.n_cols);
  out.append(m);
  out.finish();
}

MtxStreamWriter::MtxStreamWriter(std::filesystem::path path, MtxWriteOptions options,
                                 std::int64_t n_cols)
    : path_(std::move(path)),
      part_(path_.string() + ".part"),
      options_(std::move(options)),
      n_cols_(n_cols),
      body_(part_, options_.gzip_level) {}

MtxStreamWriter::~MtxStreamWriter() {
  if (finished_) return;
  std::error_code ec;
  std::filesystem::remove(part_, ec);  // body_ removes it too when still open
  if (started_) std::filesystem::remove(path_, ec);
}

void MtxStreamWriter::append(const CsrMatrix& piece) {
  const CsrMatrix& m = piece;
  for (std::int64_t i = 0; i < m.n_rows; ++i) {
    for (std::int64_t k = m.indptr[i]; k < m.indptr[i + 1]; ++k) {
      const float v = m.data[static_cast<std::size_t>(k)];
      if (!std::isfinite(v)) {
        throw InputError("cannot write " + path_.string() + ": the value at row " +
                         std::to_string(n_rows_ + i + 1) + ", column " +
                         std::to_string(m.indices[k] + 1) + " is " +
                         (std::isnan(v) ? "NaN" : "infinite") +
                         ", which a Matrix Market file cannot hold");
      }
      if (v != std::trunc(v)) whole_ = false;
    }
  }
  std::string& buf = body_.buffer();
  for (std::int64_t r = 0; r < m.n_rows; ++r) {
    const std::int64_t i = n_rows_ + r;
    for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      const std::int64_t j = m.indices[static_cast<std::size_t>(k)];
      append_integer(buf, (options_.transpose ? j : i) + 1);
      buf += ' ';
      append_integer(buf, (options_.transpose ? i : j) + 1);
      buf += ' ';
      append_value(buf, m.data[static_cast<std::size_t>(k)]);
      buf += '\n';
    }
    body_.maybe_flush();
  }
  n_rows_ += m.n_rows;
  nnz_ += m.nnz();
}

void MtxStreamWriter::finish() {
  body_.close();
  started_ = true;
  {
    TextWriter out(path_, options_.gzip_level);
    std::string& buf = out.buffer();
    buf += "%%MatrixMarket matrix coordinate ";
    buf += whole_ ? "integer" : "real";
    buf += " general\n";
    if (!options_.comment.empty()) {
      const std::string& comment = options_.comment;
      std::size_t start = 0;
      while (start <= comment.size()) {
        std::size_t stop = comment.find('\n', start);
        if (stop == std::string::npos) stop = comment.size();
        buf += '%';
        buf.append(comment, start, stop - start);
        buf += '\n';
        start = stop + 1;
      }
    }
    append_integer(buf, options_.transpose ? n_cols_ : n_rows_);
    buf += ' ';
    append_integer(buf, options_.transpose ? n_rows_ : n_cols_);
    buf += ' ';
    append_integer(buf, nnz_);
    buf += '\n';
    out.close();
  }
  append_file(part_, path_);
  std::error_code ec;
  std::filesystem::remove(part_, ec);
  finished_ = true;
}

}  // namespace cellvae::detail
