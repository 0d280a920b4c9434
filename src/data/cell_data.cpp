#include "cellvae/data/cell_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "cellvae/error.hpp"

namespace cellvae::data {
namespace {

void check_rows(const CsrMatrix& counts, const std::vector<std::int64_t>& rows, const char* what) {
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i] < 0 || rows[i] >= counts.n_rows)
      throw InputError(std::string(what) + ": cell index " + std::to_string(rows[i]) +
                       " (position " + std::to_string(i) + ") out of range; the data have " +
                       std::to_string(counts.n_rows) + " cells");
}

// The codes of `rows` as an int64 tensor; undefined when there are no codes.
torch::Tensor codes_of(const std::vector<std::int32_t>& codes,
                       const std::vector<std::int64_t>& rows, std::int64_t n_rows,
                       const char* what) {
  if (codes.empty()) return {};
  if (static_cast<std::int64_t>(codes.size()) != n_rows)
    throw InputError(std::string("make_batch: ") + std::to_string(codes.size()) + " " + what +
                     " codes for " + std::to_string(n_rows) + " cells");
  torch::Tensor t = torch::empty({static_cast<std::int64_t>(rows.size())}, torch::kLong);
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
                            const BatchOptions& options) {
  const CsrMatrix& m = data.counts;
  check_rows(m, rows, "make_batch");
  const auto n = static_cast<std::int64_t>(rows.size());

  torch::Tensor x;
  if (data.transform) {
    std::vector<float> dense = apply_input_transform(*data.transform, m, rows);
    x = torch::empty({n, m.n_cols}, torch::kFloat);
    if (!dense.empty())
      std::memcpy(x.data_ptr<float>(), dense.data(), dense.size() * sizeof(float));
  } else {
    // Scatter each CSR row into a zeroed dense row; no other row is touched.
    x = torch::zeros({n, m.n_cols}, torch::kFloat);
    float* out = x.data_ptr<float>();
    for (std::int64_t i = 0; i < n; ++i) {
      const auto r = static_cast<std::size_t>(rows[static_cast<std::size_t>(i)]);
      float* dst = out + i * m.n_cols;
      for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
        const auto kk = static_cast<std::size_t>(k);
        dst[m.indices[kk]] += m.data[kk];  // += : duplicates in a non-canonical row add up
      }
    }
  }

  model::CellBatch batch;
  const bool cpu = options.device.is_cpu();
  batch.x = (options.dtype == torch::kFloat && cpu) ? x : x.to(options.device, options.dtype);
  batch.labels = codes_of(data.labels, rows, m.n_rows, "label");
  batch.batches = codes_of(data.batches, rows, m.n_rows, "batch");
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
