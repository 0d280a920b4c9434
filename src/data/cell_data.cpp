#include "cellvae/data/cell_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "cellvae/error.hpp"
#include "../model/kernel_support.hpp"

namespace cellvae::data {
namespace {

void check_rows(const CsrMatrix& counts, const std::vector<std::int64_t>& rows, const char* what) {
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i] < 0 || rows[i] >= counts.n_rows)
      throw InputError(std::string(what) + ": cell index " + std::to_string(rows[i]) +
                       " (position " + std::to_string(i) + ") out of range; the data have " +
                       std::to_string(counts.n_rows) + " cells");
}

// An uninitialised tensor of `sizes`: *buffer when only the buffer refers to it (resized; its
// storage grows only past its largest size so far), else a new one that becomes the buffer.
torch::Tensor reusable(torch::Tensor* buffer, at::IntArrayRef sizes, torch::Dtype dtype) {
  if (buffer == nullptr) return torch::empty(sizes, dtype);
  torch::Tensor& b = *buffer;
  if (b.defined() && b.scalar_type() == dtype && b.use_count() == 1 &&
      b.storage().use_count() == 1) {
    b.resize_(sizes);
    return b;
  }
  b = torch::empty(sizes, dtype);
  return b;
}

// apply_input_transform(t, m, rows) written into `out` (rows.size() x genes) directly: the same
// double arithmetic in the same order (so bit-identical), without its intermediate matrices:
// size factor = library / reference library, log2(count / size factor + 1) rounded to float,
// then (value - min) / (max - min) per gene (0 for a gene constant in training), not clipped.
void transformed_rows(const InputTransform& t, const CsrMatrix& m,
                      const std::vector<std::int64_t>& rows, float* out) {
  const MinMaxScaler& mm = t.min_max;
  const auto genes = static_cast<std::size_t>(m.n_cols);
  if (m.n_cols != mm.n_genes())
    throw InputError("input transform: the matrix has " + std::to_string(m.n_cols) +
                     " genes but the transform was fitted on " + std::to_string(mm.n_genes()));
  std::vector<double> scale(genes), offset(genes);
  std::vector<float> zero_row(genes);
  for (std::size_t g = 0; g < genes; ++g) {
    const double range = static_cast<double>(mm.max[g]) - static_cast<double>(mm.min[g]);
    scale[g] = range > 0 ? 1.0 / range : 0.0;
    offset[g] = mm.min[g];
    zero_row[g] = static_cast<float>((0.0 - offset[g]) * scale[g]);
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto r = static_cast<std::size_t>(rows[i]);
    double library = 0;
    for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      const double v = m.data[static_cast<std::size_t>(k)];
      if (!std::isfinite(v) || v < 0)
        throw InputError("input transform: cell " + std::to_string(r) + ", gene " +
                         std::to_string(m.indices[static_cast<std::size_t>(k)]) +
                         " has a value that is not a count");
      library += v;
    }
    if (library == 0)
      throw InputError("input transform: cell " + std::to_string(r) +
                       " has no counts (library size 0), so it has no size factor");
    const double sf = library / t.reference_library;
    float* row = out + i * genes;
    std::memcpy(row, zero_row.data(), genes * sizeof(float));
    for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      const auto kk = static_cast<std::size_t>(k);
      const auto g = static_cast<std::size_t>(m.indices[kk]);
      const float logn =
          static_cast<float>(std::log2(static_cast<double>(m.data[kk]) / sf + 1.0));
      row[g] = static_cast<float>((static_cast<double>(logn) - offset[g]) * scale[g]);
    }
  }
}

CELLVAE_VECTOR_MATH_BEGIN

// The number of nonzeros of n values (vectorized).
CELLVAE_MULTIVERSION
std::int64_t count_nonzeros(const float* v, std::int64_t n) {
  std::int64_t k = 0;
  for (std::int64_t i = 0; i < n; ++i) k += v[i] != 0.0f ? 1 : 0;
  return k;
}

// Appends the nonzeros of row[0, cols) to idx/val from position k, branch-free (a dense row of
// scaled values has its nonzeros at unpredictable places); returns the new k.
CELLVAE_MULTIVERSION
std::int64_t compact_row(const float* row, std::int64_t cols, std::int32_t* idx, float* val,
                         std::int64_t k) {
  for (std::int64_t g = 0; g < cols; ++g) {
    idx[k] = static_cast<std::int32_t>(g);
    val[k] = row[g];
    k += row[g] != 0.0f ? 1 : 0;
  }
  return k;
}

CELLVAE_VECTOR_MATH_END

// x_csr for n rows of `cols` columns with room for `capacity` entries (in `buffers` when given).
model::CsrRows csr_rows_with_capacity(std::int64_t n, std::int64_t cols, std::int64_t capacity,
                                      BatchBuffers* buffers) {
  model::CsrRows c;
  c.n_cols = cols;
  c.indptr = reusable(buffers ? &buffers->indptr : nullptr, {n + 1}, torch::kLong);
  c.indices = reusable(buffers ? &buffers->indices : nullptr, {capacity}, torch::kInt);
  c.values = reusable(buffers ? &buffers->values : nullptr, {capacity}, torch::kFloat);
  return c;
}

// x_csr of the dense rows `dense` (n x cols): their nonzeros.
model::CsrRows nonzeros_of(const float* dense, std::int64_t n, std::int64_t cols,
                           BatchBuffers* buffers) {
  const std::int64_t nnz = count_nonzeros(dense, n * cols);
  // One spare entry: compact_row writes (and then drops) a candidate past the last nonzero.
  model::CsrRows c = csr_rows_with_capacity(n, cols, nnz + 1, buffers);
  auto* p = c.indptr.data_ptr<std::int64_t>();
  auto* idx = c.indices.data_ptr<std::int32_t>();
  auto* val = c.values.data_ptr<float>();
  std::int64_t k = 0;
  p[0] = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    k = compact_row(dense + i * cols, cols, idx, val, k);
    p[i + 1] = k;
  }
  c.indices.resize_({nnz});
  c.values.resize_({nnz});
  return c;
}

// x_csr of `rows` of m: each row's stored entries, copied as they are when the row's indices
// ascend strictly (canonical CSR), else read back from the row's dense copy `dense` (sorted,
// duplicates summed; zeros dropped).
model::CsrRows rows_of(const CsrMatrix& m, const std::vector<std::int64_t>& rows,
                       const float* dense, BatchBuffers* buffers) {
  const auto n = static_cast<std::int64_t>(rows.size());
  std::int64_t capacity = 0;
  for (std::int64_t r : rows)
    capacity += m.indptr[static_cast<std::size_t>(r) + 1] - m.indptr[static_cast<std::size_t>(r)];
  model::CsrRows c = csr_rows_with_capacity(n, m.n_cols, capacity, buffers);
  auto* p = c.indptr.data_ptr<std::int64_t>();
  auto* idx = c.indices.data_ptr<std::int32_t>();
  auto* val = c.values.data_ptr<float>();
  std::int64_t k = 0;
  p[0] = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto r = static_cast<std::size_t>(rows[static_cast<std::size_t>(i)]);
    const auto begin = static_cast<std::size_t>(m.indptr[r]);
    const auto end = static_cast<std::size_t>(m.indptr[r + 1]);
    bool canonical = true;
    for (std::size_t q = begin + 1; q < end && canonical; ++q)
      canonical = m.indices[q] > m.indices[q - 1];
    if (canonical) {
      const auto len = static_cast<std::int64_t>(end - begin);
      std::memcpy(idx + k, m.indices.data() + begin, (end - begin) * sizeof(std::int32_t));
      std::memcpy(val + k, m.data.data() + begin, (end - begin) * sizeof(float));
      k += len;
    } else {
      const float* row = dense + i * m.n_cols;
      std::vector<std::int32_t> cols(m.indices.begin() + static_cast<std::ptrdiff_t>(begin),
                                     m.indices.begin() + static_cast<std::ptrdiff_t>(end));
      std::sort(cols.begin(), cols.end());
      cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
      for (std::int32_t g : cols)
        if (row[g] != 0.0f) {
          idx[k] = g;
          val[k++] = row[g];
        }
    }
    p[i + 1] = k;
  }
  if (k < capacity) {
    c.indices.resize_({k});
    c.values.resize_({k});
  }
  return c;
}

// The codes of `rows` as an int64 tensor; undefined when there are no codes.
torch::Tensor codes_of(const std::vector<std::int32_t>& codes,
                       const std::vector<std::int64_t>& rows, std::int64_t n_rows,
                       const char* what, torch::Tensor* buffer) {
  if (codes.empty()) return {};
  if (static_cast<std::int64_t>(codes.size()) != n_rows)
    throw InputError(std::string("make_batch: ") + std::to_string(codes.size()) + " " + what +
                     " codes for " + std::to_string(n_rows) + " cells");
  torch::Tensor t = reusable(buffer, {static_cast<std::int64_t>(rows.size())}, torch::kLong);
  auto* out = t.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < rows.size(); ++i) out[i] = codes[static_cast<std::size_t>(rows[i])];
  return t;
}

// log(max(1, total count)) of `row`.
double log_library_of(const CsrMatrix& counts, std::int64_t row) {
  double total = 0;
  for (std::int64_t k = counts.indptr[static_cast<std::size_t>(row)];
       k < counts.indptr[static_cast<std::size_t>(row) + 1]; ++k)
    total += counts.data[static_cast<std::size_t>(k)];
  return std::log(std::max(1.0, total));
}

}  // namespace

model::CellBatch make_batch(const CellData& data, const std::vector<std::int64_t>& rows,
                            const BatchOptions& options, BatchBuffers* buffers) {
  const CsrMatrix& m = data.counts;
  check_rows(m, rows, "make_batch");
  const auto n = static_cast<std::int64_t>(rows.size());
  const bool cpu = options.device.is_cpu();
  const bool sparse = options.sparse && cpu;

  torch::Tensor x = reusable(buffers ? &buffers->x : nullptr, {n, m.n_cols}, torch::kFloat);
  float* out = x.data_ptr<float>();
  model::CsrRows csr;
  if (data.transform) {
    transformed_rows(*data.transform, m, rows, out);
    if (sparse) csr = nonzeros_of(out, n, m.n_cols, buffers);
  } else {
    // Scatter each CSR row into a zeroed dense row; no other row is touched.
    x.zero_();
    for (std::int64_t i = 0; i < n; ++i) {
      const auto r = static_cast<std::size_t>(rows[static_cast<std::size_t>(i)]);
      float* dst = out + i * m.n_cols;
      for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
        const auto kk = static_cast<std::size_t>(k);
        dst[m.indices[kk]] += m.data[kk];  // += : duplicates in a non-canonical row add up
      }
    }
    if (sparse) csr = rows_of(m, rows, out, buffers);
  }

  model::CellBatch batch;
  batch.x = (options.dtype == torch::kFloat && cpu) ? x : x.to(options.device, options.dtype);
  batch.x_csr = std::move(csr);
  batch.labels = codes_of(data.labels, rows, m.n_rows, "label",
                          buffers ? &buffers->labels : nullptr);
  batch.batches = codes_of(data.batches, rows, m.n_rows, "batch",
                           buffers ? &buffers->batches : nullptr);
  if (!cpu) {
    if (batch.labels.defined()) batch.labels = batch.labels.to(options.device);
    if (batch.batches.defined()) batch.batches = batch.batches.to(options.device);
  }
  return batch;
}

std::pair<torch::Tensor, torch::Tensor> library_prior(const CellData& data,
                                                      const std::vector<std::int64_t>& rows,
                                                      std::int64_t n_batches) {
  const CsrMatrix& m = data.counts;
  if (rows.empty()) throw InputError("library prior: no training cells");
  check_rows(m, rows, "library prior");
  const bool per_batch = !data.batches.empty() && n_batches >= 1;
  if (per_batch && static_cast<std::int64_t>(data.batches.size()) != m.n_rows)
    throw InputError("library prior: " + std::to_string(data.batches.size()) +
                     " batch codes for " + std::to_string(m.n_rows) + " cells");
  const std::int64_t k = per_batch ? n_batches : 1;

  // Two passes (mean, then centred squares) in double: stable for large libraries.
  std::vector<double> logs(rows.size());
  std::vector<std::int64_t> group(rows.size(), 0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    logs[i] = log_library_of(m, rows[i]);
    if (per_batch) {
      const std::int32_t b = data.batches[static_cast<std::size_t>(rows[i])];
      if (b < 0 || b >= n_batches)
        throw InputError("library prior: cell " + std::to_string(rows[i]) + " has batch code " +
                         std::to_string(b) + ", expected 0.." + std::to_string(n_batches - 1));
      group[i] = b;
    }
  }
  std::vector<double> sum(static_cast<std::size_t>(k), 0.0), count(sum), sq(sum);
  double all_sum = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    sum[static_cast<std::size_t>(group[i])] += logs[i];
    count[static_cast<std::size_t>(group[i])] += 1;
    all_sum += logs[i];
  }
  const double all_mean = all_sum / static_cast<double>(rows.size());
  std::vector<double> mean(sum.size());
  for (std::size_t b = 0; b < sum.size(); ++b)
    mean[b] = count[b] > 0 ? sum[b] / count[b] : all_mean;
  double all_sq = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const double d = logs[i] - mean[static_cast<std::size_t>(group[i])];
    sq[static_cast<std::size_t>(group[i])] += d * d;
    all_sq += (logs[i] - all_mean) * (logs[i] - all_mean);
  }
  const double all_var = all_sq / static_cast<double>(rows.size());

  torch::Tensor mean_t = torch::empty({k}, torch::kFloat);
  torch::Tensor var_t = torch::empty({k}, torch::kFloat);
  for (std::size_t b = 0; b < sum.size(); ++b) {
    const auto bi = static_cast<std::int64_t>(b);
    mean_t[bi] = mean[b];
    var_t[bi] = count[b] > 0 ? sq[b] / count[b] : all_var;
  }
  return {mean_t, var_t};
}

}  // namespace cellvae::data
