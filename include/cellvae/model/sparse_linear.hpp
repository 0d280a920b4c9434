// The first encoder layer computed from a minibatch's nonzeros: y = x Wᵀ + b for x in CSR form,
// forward and backward in O(nnz · outputs) instead of O(cells · genes · outputs). Count
// matrices are mostly zeros (74-90% for scRNA-seq), and log1p keeps a zero a zero, so the
// encoder never needs the dense minibatch.
//
// Orientation: rows are cells, columns are genes. CPU only; float or double.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace cellvae::model {

/// A cells x n_cols matrix in CSR form, as CPU tensors (a minibatch of cells).
struct CsrRows {
  torch::Tensor indptr;   ///< int64, rows + 1 entries from 0, non-decreasing, ending at nnz
  torch::Tensor indices;  ///< int32, nnz column indices in [0, n_cols), ascending in each row
  torch::Tensor values;   ///< float or double, nnz (explicit zeros allowed)
  std::int64_t n_cols = 0;

  bool defined() const { return indptr.defined(); }
  std::int64_t rows() const { return indptr.defined() ? indptr.numel() - 1 : 0; }
  std::int64_t nnz() const { return values.defined() ? values.numel() : 0; }
  /// Stored entries / (rows * n_cols); 0 for an empty matrix.
  double density() const;
};

/// Throws std::invalid_argument naming the first broken invariant of `x` ("CSR indices must be
/// ascending within a row (row 3)").
void check_csr(const CsrRows& x);

/// The dense rows x n_cols copy of x (duplicates add up), with `options`' dtype.
torch::Tensor csr_to_dense(const CsrRows& x, const torch::TensorOptions& options = {});

/// x with `fn` applied to its stored values (same pattern); fn must map 0 to 0 (log1p does)
/// for the result to stand for fn applied to every entry of the dense matrix.
CsrRows map_values(const CsrRows& x, torch::Tensor (*fn)(const torch::Tensor&));

/// y = [x, onehot] Wᵀ + b (cells x H) where `weight` is H x K, K = x.n_cols + the one-hot
/// width, and `one_hot_columns` (int64, cells x E, may be undefined) gives for each cell the
/// E columns in [x.n_cols, K) that hold a 1 (its covariate categories, offset). `bias` is H
/// or undefined. Differentiable w.r.t. weight and bias (x and the codes get no gradient):
/// d weight = dyᵀ [x, onehot], d bias = dy summed over cells. Equal to the dense
/// torch::linear on the densified input up to the order of float additions.
/// Work: forward O(nnz · H), backward O(nnz · H) plus two H x K transposes; cells are split
/// over LibTorch's intra-op threads in the forward, weight columns in the backward.
/// Throws std::invalid_argument for mismatched shapes, devices or dtypes (x.values must have
/// weight's dtype).
torch::Tensor sparse_linear(const CsrRows& x, const torch::Tensor& weight,
                            const torch::Tensor& bias,
                            const torch::Tensor& one_hot_columns = {});

}  // namespace cellvae::model
