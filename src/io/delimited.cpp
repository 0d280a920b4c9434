// Dense CSV/TSV tables with a header row and a row-name column, as R's write.csv / write.table
// and pandas' to_csv write them, optionally gzip-compressed.
#include "cellvae/delimited.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cellvae/error.hpp"
#include "dataset_sink.hpp"
#include "text_stream.hpp"

namespace cellvae {
namespace {

using detail::LineReader;

// Splits records into fields. Quoted fields ("a,b", "say ""hi""") are unescaped in place in a
// copy of the record, made only for lines that hold a quote, so plain numeric rows cost no copy.
// A quoted field may span lines; the record then starts at start_line().
class RecordReader {
 public:
  RecordReader(LineReader& in, char separator) : in_(in), sep_(separator) {}

  /// The next non-blank record's fields (views valid until the next call); false at the end.
  bool next(std::vector<std::string_view>& fields) {
    std::string_view line;
    do {
      if (!in_.next(line)) return false;
      if (in_.line_number() == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    } while (line.empty());
    start_line_ = in_.line_number();
    fields.clear();
    if (line.find('"') == std::string_view::npos) {
      split_plain(line, fields);
      return true;
    }
    record_.assign(line);
    while (open_quote(record_)) {
      if (!in_.next(line)) fail("a quoted field opened on this line never closes");
      record_ += '\n';
      record_.append(line);
    }
    split_quoted(fields);
    return true;
  }

  std::int64_t start_line() const { return start_line_; }
  const std::filesystem::path& path() const { return in_.path(); }

  [[noreturn]] void fail(const std::string& message) const {
    throw InputError(in_.path().string() + " line " + std::to_string(start_line_) + ": " + message);
  }

 private:
  void split_plain(std::string_view line, std::vector<std::string_view>& fields) const {
    std::size_t start = 0;
    for (;;) {
      const std::size_t stop = line.find(sep_, start);
      if (stop == std::string_view::npos) {
        fields.push_back(line.substr(start));
        return;
      }
      fields.push_back(line.substr(start, stop - start));
      start = stop + 1;
    }
  }

  // True while a field opened with '"' at its start has not been closed.
  bool open_quote(const std::string& record) const {
    bool at_field_start = true;
    bool in_quotes = false;
    for (std::size_t i = 0; i < record.size(); ++i) {
      const char c = record[i];
      if (in_quotes) {
        if (c == '"') {
          if (i + 1 < record.size() && record[i + 1] == '"') {
            ++i;
          } else {
            in_quotes = false;
          }
        }
      } else if (c == '"' && at_field_start) {
        in_quotes = true;
      }
      at_field_start = !in_quotes && c == sep_;
    }
    return in_quotes;
  }

  void split_quoted(std::vector<std::string_view>& fields) {
    char* p = record_.data();
    char* const end = p + record_.size();
    for (;;) {
      char* const start = p;
      if (p != end && *p == '"') {
        char* out = p;
        ++p;
        for (;;) {
          if (*p == '"') {
            if (p + 1 != end && p[1] == '"') {
              *out++ = '"';
              p += 2;
              continue;
            }
            ++p;
            break;
          }
          *out++ = *p++;  // open_quote() guaranteed the closing quote is ahead
        }
        if (p != end && *p != sep_) {
          fail("unexpected text after the closing quote of field " +
               std::to_string(fields.size() + 1));
        }
        fields.emplace_back(start, static_cast<std::size_t>(out - start));
      } else {
        while (p != end && *p != sep_) ++p;
        fields.emplace_back(start, static_cast<std::size_t>(p - start));
      }
      if (p == end) return;
      ++p;  // the separator
    }
  }

  LineReader& in_;
  char sep_;
  std::string record_;
  std::int64_t start_line_ = 0;
};

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Numbers, plus the missing/infinite markers R and pandas write. Missing values become NaN
// rather than errors here so that check_counts can name the cell and gene holding them.
bool parse_value(std::string_view s, float& out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty() || s == "NA" || equals_ignoring_case(s, "nan")) {
    out = std::numeric_limits<float>::quiet_NaN();
    return true;
  }
  const bool negative = s.front() == '-';
  std::string_view unsigned_part = (negative || s.front() == '+') ? s.substr(1) : s;
  if (equals_ignoring_case(unsigned_part, "inf") ||
      equals_ignoring_case(unsigned_part, "infinity")) {
    out =
        negative ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
    return true;
  }
  if (s.front() == '+') s.remove_prefix(1);
  double value = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), value);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return false;
  out = static_cast<float>(value);
  return true;
}

std::string quote_if_needed(const std::string& name, char sep) {
  if (name.find_first_of(std::string{sep, '"', '\n', '\r'}) == std::string::npos) return name;
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

void check_separator(char sep) {
  if (sep == '"' || sep == '\n' || sep == '\r' || sep == '\0' || sep == '.' || sep == '-' ||
      std::isdigit(static_cast<unsigned char>(sep))) {
    throw InputError(std::string("invalid separator '") + sep + "'; use ',' or a tab");
  }
}

}  // namespace

Dataset read_delimited(const std::filesystem::path& path, const DelimitedOptions& options) {
  check_separator(options.separator);
  LineReader in(path);
  RecordReader records(in, options.separator);
  std::vector<std::string_view> fields;
  if (!records.next(fields)) {
    throw InputError(path.string() + " is empty; expected a header line of column names");
  }
  std::vector<std::string> header(fields.begin(), fields.end());
  const std::int64_t header_line = records.start_line();

  std::vector<std::string> row_names;
  std::vector<std::string> column_names;
  CsrMatrix rows;  // as in the file: cells x genes, or genes x cells with options.transpose
  rows.indptr.assign(1, 0);
  std::size_t n_fields = 0;
  while (records.next(fields)) {
    if (n_fields == 0) {
      // R's write.table leaves out the header's corner cell; write.csv and pandas keep it.
      n_fields = fields.size();
      if (header.size() == n_fields) {
        column_names.assign(header.begin() + 1, header.end());
      } else if (header.size() + 1 == n_fields) {
        column_names = header;
      } else {
        records.fail(std::to_string(n_fields) + " fields, but the header (line " +
                     std::to_string(header_line) + ") has " + std::to_string(header.size()) +
                     "; expected a row name plus one value per header column");
      }
      if (column_names.size() >
          static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
        records.fail("too many columns");
      }
    } else if (fields.size() != n_fields) {
      records.fail(std::to_string(fields.size()) + " fields, expected " + std::to_string(n_fields) +
                   " (a row name and " + std::to_string(n_fields - 1) + " values) like line " +
                   std::to_string(header_line + 1) + "; is the row cut short or ragged?");
    }
    row_names.emplace_back(fields[0]);
    for (std::size_t j = 1; j < fields.size(); ++j) {
      float value = 0;
      if (!parse_value(fields[j], value)) {
        records.fail("column " + std::to_string(j + 1) + " ('" +
                     detail::excerpt(column_names[j - 1]) + "'): '" + detail::excerpt(fields[j]) +
                     "' is not a number");
      }
      if (value != 0.0f) {
        rows.indices.push_back(static_cast<std::int32_t>(j - 1));
        rows.data.push_back(value);
      }
    }
    rows.indptr.push_back(static_cast<std::int64_t>(rows.data.size()));
  }
  if (n_fields == 0 && !header.empty()) column_names.assign(header.begin() + 1, header.end());
  rows.n_rows = static_cast<std::int64_t>(row_names.size());
  rows.n_cols = static_cast<std::int64_t>(column_names.size());

  Dataset ds;
  ds.source = path.string();
  if (options.transpose) {
    // genes x cells CSR buffers are the CSC buffers of the cells x genes matrix.
    ds.X = csr_from_csc(rows.n_cols, rows.n_rows, rows.indptr, rows.indices, rows.data);
    ds.obs.index = std::move(column_names);
    ds.var.index = std::move(row_names);
  } else {
    ds.X = std::move(rows);
    ds.obs.index = std::move(row_names);
    ds.var.index = std::move(column_names);
  }
  return ds;
}

namespace {

// The header line: an empty corner cell, then the column names.
void append_header(std::string& buf, const std::vector<std::string>& column_names, char sep) {
  for (const auto& name : column_names) {
    buf += sep;
    buf += quote_if_needed(name, sep);
  }
  buf += '\n';
}

// Row r of m as one dense line, zeros included.
void append_row(std::string& buf, const CsrMatrix& m, std::int64_t r, const std::string& name,
                char sep) {
  buf += quote_if_needed(name, sep);
  std::int64_t k = m.indptr[r];
  const std::int64_t stop = m.indptr[r + 1];
  for (std::int64_t j = 0; j < m.n_cols; ++j) {
    buf += sep;
    if (k < stop && m.indices[static_cast<std::size_t>(k)] == j) {
      detail::append_value(buf, m.data[static_cast<std::size_t>(k)]);
      ++k;
    } else {
      buf += '0';
    }
  }
  buf += '\n';
}

// Cells as rows, one line per appended cell; the table has no room for obs columns.
class DelimitedSink final : public detail::DatasetSink {
 public:
  DelimitedSink(const std::filesystem::path& path, const DataFrame& var, char separator,
                int gzip_level)
      : sep_(separator), out_(path, gzip_level) {
    append_header(out_.buffer(), var.index, sep_);
    out_.maybe_flush();
  }

  void append(const CsrMatrix& rows, const std::vector<std::string>& names) override {
    for (std::int64_t r = 0; r < rows.n_rows; ++r) {
      append_row(out_.buffer(), rows, r, names[static_cast<std::size_t>(r)], sep_);
      out_.maybe_flush();
    }
  }

  void finish(const DataFrame&, const std::map<std::string, DenseArray>&,
              const std::map<std::string, UnsValue>&) override {
    out_.close();
  }

  std::size_t buffered_bytes() const override { return out_.buffered_bytes(); }

 private:
  char sep_;
  detail::TextWriter out_;
};

}  // namespace

namespace detail {
std::unique_ptr<DatasetSink> make_delimited_sink(const std::filesystem::path& path,
                                                 const DataFrame& var, char separator,
                                                 int gzip_level) {
  check_separator(separator);
  return std::make_unique<DelimitedSink>(path, var, separator, gzip_level);
}
}  // namespace detail

void write_delimited(const Dataset& ds, const std::filesystem::path& path,
                     const DelimitedOptions& options) {
  const char sep = options.separator;
  check_separator(sep);
  ds.validate();
  CsrMatrix transposed;
  if (options.transpose) transposed = transpose(ds.X);
  const CsrMatrix& m = options.transpose ? transposed : ds.X;
  const std::vector<std::string>& row_names = options.transpose ? ds.var.index : ds.obs.index;
  const std::vector<std::string>& column_names = options.transpose ? ds.obs.index : ds.var.index;

  detail::TextWriter out(
      path, options.gzip_level ? *options.gzip_level : (detail::has_gz_extension(path) ? 4 : -1));
  append_header(out.buffer(), column_names, sep);
  for (std::int64_t i = 0; i < m.n_rows; ++i) {
    append_row(out.buffer(), m, i, row_names[static_cast<std::size_t>(i)], sep);
    out.maybe_flush();
  }
  out.close();
}

}  // namespace cellvae
