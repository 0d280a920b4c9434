#include "cellvae/csr_matrix.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "cellvae/error.hpp"

namespace cellvae {

namespace {
[[noreturn]] void invalid(const char* what, const std::string& detail) {
  throw InputError(std::string(what) + ": " + detail);
}
}  // namespace

void CsrMatrix::validate(const char* what) const {
  if (n_rows < 0 || n_cols < 0) invalid(what, "negative shape");
  if (n_cols > INT32_MAX) invalid(what, "more than 2^31 columns");
  if (static_cast<std::int64_t>(indptr.size()) != n_rows + 1)
    invalid(what, "indptr has " + std::to_string(indptr.size()) + " entries, expected " +
                      std::to_string(n_rows + 1) + " (rows + 1)");
  if (indices.size() != data.size())
    invalid(what, "indices (" + std::to_string(indices.size()) + ") and data (" +
                      std::to_string(data.size()) + ") differ in length");
  if (indptr.front() != 0) invalid(what, "indptr must start at 0");
  if (indptr.back() != nnz())
    invalid(what, "indptr ends at " + std::to_string(indptr.back()) + " but there are " +
                      std::to_string(nnz()) + " stored values");
  for (std::int64_t r = 0; r < n_rows; ++r) {
    const std::int64_t b = indptr[r], e = indptr[r + 1];
    if (e < b) invalid(what, "indptr must be non-decreasing (row " + std::to_string(r) + ")");
    for (std::int64_t k = b; k < e; ++k) {
      const std::int32_t c = indices[k];
      if (c < 0 || c >= n_cols)
        invalid(what, "column index " + std::to_string(c) + " out of range [0, " +
                          std::to_string(n_cols) + ") in row " + std::to_string(r));
      if (k > b && c <= indices[k - 1])
        invalid(what, "column indices not sorted and unique in row " + std::to_string(r));
    }
  }
}

CsrMatrix csr_from_dense(const float* values, std::int64_t n_rows, std::int64_t n_cols) {
  CsrMatrix m;
  m.n_rows = n_rows;
  m.n_cols = n_cols;
  m.indptr.assign(n_rows + 1, 0);
  for (std::int64_t r = 0; r < n_rows; ++r) {
    const float* row = values + r * n_cols;
    for (std::int64_t c = 0; c < n_cols; ++c) {
      if (row[c] != 0.0f) {
        m.indices.push_back(static_cast<std::int32_t>(c));
        m.data.push_back(row[c]);
      }
    }
    m.indptr[r + 1] = m.nnz();
  }
  return m;
}

CsrMatrix csr_from_csc(std::int64_t n_rows, std::int64_t n_cols,
                       const std::vector<std::int64_t>& col_ptr,
                       const std::vector<std::int32_t>& row_indices,
                       const std::vector<float>& values) {
  // The CSC buffers of this matrix are the CSR buffers of its transpose.
  CsrMatrix t;
  t.n_rows = n_cols;
  t.n_cols = n_rows;
  t.indptr = col_ptr;
  t.indices = row_indices;
  t.data = values;
  if (static_cast<std::int64_t>(t.indptr.size()) != n_cols + 1)
    throw InputError("CSC matrix: indptr has " + std::to_string(t.indptr.size()) +
                     " entries, expected " + std::to_string(n_cols + 1) + " (columns + 1)");
  return transpose(t);
}

CsrMatrix transpose(const CsrMatrix& m) {
  // Counting sort by column: output rows come out with sorted column indices when the input
  // rows are visited in order.
  CsrMatrix t;
  t.n_rows = m.n_cols;
  t.n_cols = m.n_rows;
  t.indptr.assign(m.n_cols + 1, 0);
  for (std::int32_t c : m.indices) {
    if (c < 0 || c >= m.n_cols)
      throw InputError("matrix: index " + std::to_string(c) + " out of range [0, " +
                       std::to_string(m.n_cols) + ")");
    ++t.indptr[c + 1];
  }
  std::partial_sum(t.indptr.begin(), t.indptr.end(), t.indptr.begin());
  t.indices.resize(m.indices.size());
  t.data.resize(m.data.size());
  std::vector<std::int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  for (std::int64_t r = 0; r < m.n_rows; ++r) {
    for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      const std::int64_t dst = next[m.indices[k]]++;
      t.indices[dst] = static_cast<std::int32_t>(r);
      t.data[dst] = m.data[k];
    }
  }
  return t;
}

void canonicalize(CsrMatrix& m) {
  std::vector<std::pair<std::int32_t, float>> row;
  std::int64_t out = 0;
  std::int64_t begin = 0;
  for (std::int64_t r = 0; r < m.n_rows; ++r) {
    const std::int64_t end = m.indptr[r + 1];
    row.clear();
    for (std::int64_t k = begin; k < end; ++k) row.emplace_back(m.indices[k], m.data[k]);
    std::sort(row.begin(), row.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < row.size();) {
      std::int32_t c = row[i].first;
      float v = 0.0f;
      for (; i < row.size() && row[i].first == c; ++i) v += row[i].second;
      if (v != 0.0f) {
        m.indices[out] = c;
        m.data[out] = v;
        ++out;
      }
    }
    begin = end;
    m.indptr[r + 1] = out;
  }
  m.indices.resize(out);
  m.data.resize(out);
}

CsrMatrix select(const CsrMatrix& m, const std::vector<std::int64_t>& rows,
                 const std::vector<std::int64_t>& cols) {
  std::vector<std::int32_t> new_col(m.n_cols, -1);
  bool identity = static_cast<std::int64_t>(cols.size()) == m.n_cols;
  for (std::size_t j = 0; j < cols.size(); ++j) {
    if (cols[j] < 0 || cols[j] >= m.n_cols)
      throw InputError("column " + std::to_string(cols[j]) + " out of range");
    new_col[cols[j]] = static_cast<std::int32_t>(j);
    identity = identity && cols[j] == static_cast<std::int64_t>(j);
  }
  bool sorted = std::is_sorted(cols.begin(), cols.end());
  CsrMatrix out;
  out.n_rows = static_cast<std::int64_t>(rows.size());
  out.n_cols = static_cast<std::int64_t>(cols.size());
  out.indptr.assign(rows.size() + 1, 0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::int64_t r = rows[i];
    if (r < 0 || r >= m.n_rows) throw InputError("row " + std::to_string(r) + " out of range");
    const std::size_t row_start = out.data.size();
    for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      const std::int32_t c = identity ? m.indices[k] : new_col[m.indices[k]];
      if (c < 0) continue;
      out.indices.push_back(c);
      out.data.push_back(m.data[k]);
    }
    if (!sorted) {
      // Reordered columns: restore sorted indices within the row.
      std::vector<std::pair<std::int32_t, float>> tmp;
      for (std::size_t k = row_start; k < out.data.size(); ++k)
        tmp.emplace_back(out.indices[k], out.data[k]);
      std::sort(tmp.begin(), tmp.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      for (std::size_t k = 0; k < tmp.size(); ++k) {
        out.indices[row_start + k] = tmp[k].first;
        out.data[row_start + k] = tmp[k].second;
      }
    }
    out.indptr[i + 1] = static_cast<std::int64_t>(out.data.size());
  }
  return out;
}

CsrMatrix select_rows(const CsrMatrix& m, const std::vector<std::int64_t>& rows) {
  CsrMatrix out;
  out.n_rows = static_cast<std::int64_t>(rows.size());
  out.n_cols = m.n_cols;
  out.indptr.assign(rows.size() + 1, 0);
  std::int64_t total = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= m.n_rows)
      throw InputError("row " + std::to_string(rows[i]) + " out of range");
    total += m.indptr[rows[i] + 1] - m.indptr[rows[i]];
    out.indptr[i + 1] = total;
  }
  out.indices.resize(total);
  out.data.resize(total);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::int64_t b = m.indptr[rows[i]], e = m.indptr[rows[i] + 1];
    std::copy(m.indices.begin() + b, m.indices.begin() + e, out.indices.begin() + out.indptr[i]);
    std::copy(m.data.begin() + b, m.data.begin() + e, out.data.begin() + out.indptr[i]);
  }
  return out;
}

void select_in_place(CsrMatrix& m, const std::vector<std::int64_t>& rows,
                     const std::vector<std::int64_t>& cols) {
  // Check everything before the first write, so that a bad index leaves m as it was.
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i] < 0 || rows[i] >= m.n_rows || (i > 0 && rows[i] <= rows[i - 1]))
      throw InputError("select_in_place: rows must be ascending and in [0, " +
                       std::to_string(m.n_rows) + ") (row " + std::to_string(rows[i]) + ")");
  std::vector<std::int32_t> new_col(static_cast<std::size_t>(m.n_cols), -1);
  for (std::size_t j = 0; j < cols.size(); ++j) {
    if (cols[j] < 0 || cols[j] >= m.n_cols || (j > 0 && cols[j] <= cols[j - 1]))
      throw InputError("select_in_place: columns must be ascending and in [0, " +
                       std::to_string(m.n_cols) + ") (column " + std::to_string(cols[j]) + ")");
    new_col[static_cast<std::size_t>(cols[j])] = static_cast<std::int32_t>(j);
  }
  // Kept entries move towards the front: the write position never passes the read position,
  // and ascending columns keep each row's indices ascending.
  std::int64_t out = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::int64_t b = m.indptr[rows[i]], e = m.indptr[rows[i] + 1];
    m.indptr[i] = out;  // rows[i] >= i: entry i is no longer read
    for (std::int64_t k = b; k < e; ++k) {
      const std::int32_t c = new_col[static_cast<std::size_t>(m.indices[k])];
      if (c < 0) continue;
      m.indices[out] = c;
      m.data[out] = m.data[k];
      ++out;
    }
  }
  m.indptr.resize(rows.size() + 1);
  m.indptr[rows.size()] = out;
  m.indices.resize(static_cast<std::size_t>(out));
  m.data.resize(static_cast<std::size_t>(out));
  m.n_rows = static_cast<std::int64_t>(rows.size());
  m.n_cols = static_cast<std::int64_t>(cols.size());
}

CsrMatrix stack_rows(const CsrMatrix& top, const CsrMatrix& bottom) {
  if (top.n_cols != bottom.n_cols)
    throw InputError("cannot stack matrices with " + std::to_string(top.n_cols) + " and " +
                     std::to_string(bottom.n_cols) + " columns");
  CsrMatrix out = top;
  out.n_rows += bottom.n_rows;
  const std::int64_t offset = top.nnz();
  for (std::int64_t r = 1; r <= bottom.n_rows; ++r) out.indptr.push_back(offset + bottom.indptr[r]);
  out.indices.insert(out.indices.end(), bottom.indices.begin(), bottom.indices.end());
  out.data.insert(out.data.end(), bottom.data.begin(), bottom.data.end());
  return out;
}

std::vector<float> to_dense(const CsrMatrix& m) {
  std::vector<float> d(static_cast<std::size_t>(m.n_rows * m.n_cols), 0.0f);
  for (std::int64_t r = 0; r < m.n_rows; ++r)
    for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k)
      d[r * m.n_cols + m.indices[k]] = m.data[k];
  return d;
}

std::vector<double> row_sums(const CsrMatrix& m) {
  std::vector<double> s(m.n_rows, 0.0);
  for (std::int64_t r = 0; r < m.n_rows; ++r)
    for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) s[r] += m.data[k];
  return s;
}

std::vector<std::int64_t> column_nonzeros(const CsrMatrix& m) {
  std::vector<std::int64_t> n(m.n_cols, 0);
  for (std::int64_t k = 0; k < m.nnz(); ++k)
    if (m.data[k] != 0.0f) ++n[m.indices[k]];
  return n;
}

bool is_integer_valued(const CsrMatrix& m) {
  for (float v : m.data)
    if (!(std::isfinite(v) && std::nearbyint(v) == v)) return false;
  return true;
}

}  // namespace cellvae
