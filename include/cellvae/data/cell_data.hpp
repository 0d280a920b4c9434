// The cells a model trains on or scores, kept sparse, and minibatches made from them: only the
// rows of a batch are ever densified.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/model/vae.hpp"
#include "cellvae/preprocess/input_transform.hpp"

namespace cellvae::data {

/// Cells x model genes counts plus per-cell covariate codes.
struct CellData {
  CsrMatrix counts;                   ///< raw counts, rows = cells, columns = the model's genes
  std::vector<std::int32_t> labels;   ///< label codes per cell, or empty
  std::vector<std::int32_t> batches;  ///< batch codes per cell, or empty
  /// Set for models with InputKind::identity (VAExprs): minibatch x is
  /// apply_input_transform(counts rows) instead of the counts.
  std::optional<InputTransform> transform;
};

/// Options of make_batch.
struct BatchOptions {
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;
  /// Also fill CellBatch::x_csr (the rows' nonzeros, for the encoder's sparse first layer,
  /// ModelConfig::sparse_input) when the device is the CPU. Costs a copy of the rows' stored
  /// entries.
  bool sparse = true;
};

/// Storage that make_batch reuses from one minibatch to the next instead of allocating (a
/// trainer keeps one). A tensor is reused only when nothing but these buffers still refers to
/// it (the previous minibatch and its autograd graph are gone), so reuse never changes a
/// result; otherwise a new one is allocated and kept.
struct BatchBuffers {
  torch::Tensor x, indptr, indices, values, labels, batches;
};

/// The dense minibatch of `rows` (indices into data.counts, any order, repeats allowed): x
/// (rows x genes), labels and batches as int64 tensors (undefined when data has none),
/// log_library undefined. Assembled from the CSR rows directly (never densifying other rows);
/// with data.transform, x is apply_input_transform of those rows (not clipped to [0, 1]).
/// Throws InputError for a row out of range.
/// x_csr (BatchOptions::sparse, CPU): the same rows' stored entries, duplicates summed and
/// indices sorted within each row (as the dense rows); with data.transform, the nonzeros of x.
/// `buffers` (may be null): storage to reuse, see BatchBuffers.
model::CellBatch make_batch(const CellData& data, const std::vector<std::int64_t>& rows,
                            const BatchOptions& options = {}, BatchBuffers* buffers = nullptr);

/// Per-batch mean and population variance of log(max(1, total count)) over `rows`
/// (LibraryKind::latent's prior, VaeImpl::set_library_prior): two float tensors of length
/// n_batches (1 when data.batches is empty or n_batches < 1: one prior over all rows). A batch
/// with no cell among rows gets the mean and variance over all rows. Throws InputError for
/// empty rows, rows out of range or batch codes outside [0, n_batches).
std::pair<torch::Tensor, torch::Tensor> library_prior(const CellData& data,
                                                      const std::vector<std::int64_t>& rows,
                                                      std::int64_t n_batches);

}  // namespace cellvae::data
