// Micro-benchmarks of the training hot kernels (Google Benchmark), each against the path it
// replaces, on scVI-sized minibatches (128 cells x 1,287 genes, kang_pbmc's HVGs) and
// VAExprs-sized ones (32 cells, 256 hidden units):
//
//   BM_Likelihood/<kind>/<path>    ZINB / NB log-likelihood forward + backward: the fused kernel
//                                  with vectorized zeros (fast), the fused all-double kernel
//                                  (exact), plain LibTorch operations (plain)
//   BM_FirstLayer/<path>/<H>/<cells>/<density %>   encoder first layer forward + backward
//                                  (weight and bias gradients): log1p + parallel_linear on the
//                                  dense minibatch (dense, the model's dense path) against
//                                  sparse_linear on its nonzeros (sparse); the crossovers set
//                                  prefer_sparse_input (model_config.cpp)
//   BM_Linear/<path>               the decoder's output head (128 cells, 128 -> 1,287) forward +
//                                  backward: torch's linear (one BLAS thread) against
//                                  parallel_linear
//   BM_BatchNorm/<path>/<cells>    hidden layer's batch norm + ReLU in training mode, forward +
//                                  backward, 128 units: batch_norm_relu_train (fused) against
//                                  BatchNorm1d + relu (torch)
//   BM_LibrarySoftmax/<path>/<cells>/<genes>  decoder count mean exp(log l) softmax(h), forward +
//                                  backward: library_softmax (fused) against LibTorch's ops
//   BM_MakeBatch/<variant>         minibatch assembly from CSR rows: dense only, dense + CSR,
//                                  dense + CSR reusing buffers (the trainer's way)
//   BM_AdamStep/<optimizer>/<model>  one optimizer step over a model's parameter shapes:
//                                  torch::optim::Adam with zero_grad and gradient accumulation,
//                                  against FusedAdam with cleared gradients
//
// Threads: LibTorch's intra-op pool gets CELLVAE_BENCH_THREADS (default 2) threads, OpenBLAS 1
// (configure_threads), with passive OpenMP waiting as the CLI. bench/run.sh runs it and writes
// JSON into bench/results/ (--benchmark_out).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/data/cell_data.hpp"
#include "cellvae/model/fused_batch_norm.hpp"
#include "cellvae/model/library_softmax.hpp"
#include "cellvae/model/likelihood.hpp"
#include "cellvae/model/likelihood_fused.hpp"
#include "cellvae/model/parallel_linear.hpp"
#include "cellvae/model/sparse_linear.hpp"
#include "cellvae/random.hpp"
#include "cellvae/threads.hpp"
#include "cellvae/train/fused_adam.hpp"

namespace {

using namespace cellvae;

// The fastest repetition: on a machine shared with other work, the least disturbed one.
double fastest(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

constexpr std::int64_t kGenes = 1287;

// Counts with the given density and kang_pbmc-like values (57% of nonzeros are 1).
CsrMatrix random_counts(std::int64_t cells, std::int64_t genes, double density,
                        std::uint64_t seed) {
  Rng rng(seed);
  CsrMatrix m;
  m.n_rows = cells;
  m.n_cols = genes;
  m.indptr.assign(1, 0);
  for (std::int64_t i = 0; i < cells; ++i) {
    for (std::int64_t g = 0; g < genes; ++g) {
      if (rng.uniform() >= density) continue;
      // Geometric-like: 1 with probability ~0.57, a long tail above.
      const double u = rng.uniform();
      const double value = std::floor(std::pow(u, -0.9));
      m.indices.push_back(static_cast<std::int32_t>(g));
      m.data.push_back(static_cast<float>(std::min(value, 2000.0)));
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.data.size()));
  }
  return m;
}

// ---- likelihood -------------------------------------------------------------------------------

struct LikelihoodInputs {
  torch::Tensor x, mu, theta, z;
};

LikelihoodInputs likelihood_inputs(std::int64_t cells) {
  torch::manual_seed(1);
  const CsrMatrix counts = random_counts(cells, kGenes, 0.27, 2);
  LikelihoodInputs in;
  in.x = torch::from_blob(to_dense(counts).data(), {cells, kGenes}, torch::kFloat).clone();
  // mu = library * softmax(head), as the decoder makes it.
  torch::Tensor library = in.x.sum(1, true).clamp_min(1.0);
  in.mu = library * torch::softmax(torch::randn({cells, kGenes}) * 1.5, 1);
  in.theta = torch::exp(torch::randn({1, kGenes}));
  in.z = torch::randn({cells, kGenes}) * 2;
  return in;
}

// Args: zero-inflated (1) or not (0); path 0 fast, 1 exact, 2 plain.
void BM_Likelihood(benchmark::State& state) {
  const bool zi = state.range(0) == 1;
  const auto path = state.range(1);
  const LikelihoodInputs in = likelihood_inputs(128);
  model::FusedNbOptions options;
  options.vectorized = path == 0;
  for (auto _ : state) {
    torch::Tensor mu = in.mu.detach().requires_grad_(true);
    torch::Tensor theta = in.theta.detach().requires_grad_(true);
    torch::Tensor z = zi ? in.z.detach().requires_grad_(true) : torch::Tensor();
    torch::Tensor per_cell =
        path == 2
            ? (zi ? model::zinb_log_prob(in.x, mu, theta, z) : model::nb_log_prob(in.x, mu, theta))
                  .sum(1)
            : model::fused_nb_log_prob_per_cell(in.x, mu, theta, z, options);
    per_cell.mean().backward();
    benchmark::DoNotOptimize(mu.grad().data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * 128 * kGenes);
  state.SetLabel(std::string(zi ? "zinb" : "nb") + " " +
                 (path == 0 ? "fused-fast" : path == 1 ? "fused-exact" : "plain"));
}
BENCHMARK(BM_Likelihood)
    ->ComputeStatistics("min", fastest)
    ->ArgsProduct({{1, 0}, {0, 1, 2}})
    ->ArgNames({"zi", "path"})
    ->Unit(benchmark::kMillisecond);

// ---- first layer ------------------------------------------------------------------------------

// Args: sparse (1) or dense (0), hidden width, cells, density in percent.
void BM_FirstLayer(benchmark::State& state) {
  const bool sparse = state.range(0) == 1;
  const std::int64_t h = state.range(1), cells = state.range(2);
  const double density = static_cast<double>(state.range(3)) / 100.0;
  const CsrMatrix counts = random_counts(cells, kGenes, density, 3);
  std::vector<std::int64_t> rows(static_cast<std::size_t>(cells));
  for (std::int64_t i = 0; i < cells; ++i) rows[static_cast<std::size_t>(i)] = i;
  data::CellData data;
  data.counts = counts;
  const model::CellBatch batch = data::make_batch(data, rows);
  torch::manual_seed(4);
  torch::nn::Linear linear(kGenes, h);
  for (auto _ : state) {
    for (auto& p : linear->parameters()) p.mutable_grad() = torch::Tensor();
    torch::Tensor y;
    if (sparse) {
      const model::CsrRows input = model::map_values(batch.x_csr, torch::log1p);
      y = model::sparse_linear(input, linear->weight, linear->bias);
    } else {
      y = model::parallel_linear(torch::log1p(batch.x), linear->weight, linear->bias);
    }
    y.backward(torch::ones_like(y));
    benchmark::DoNotOptimize(linear->weight.grad().data_ptr());
  }
  state.SetLabel(std::string(sparse ? "sparse" : "dense") + " density " +
                 std::to_string(batch.x_csr.density()));
}
BENCHMARK(BM_FirstLayer)
    ->ComputeStatistics("min", fastest)
    ->ArgsProduct({{0, 1}, {128}, {128}, {5, 10, 20, 27, 35, 50, 70}})
    ->ArgsProduct({{0, 1}, {128}, {512}, {10, 27, 35, 50}})
    ->ArgsProduct({{0, 1}, {256}, {32}, {2, 5, 10, 20, 27}})
    ->ArgNames({"sparse", "H", "cells", "density%"})
    ->Unit(benchmark::kMicrosecond);

// ---- output head ------------------------------------------------------------------------------

// Args: parallel (1) or torch (0).
void BM_Linear(benchmark::State& state) {
  const bool parallel = state.range(0) == 1;
  torch::manual_seed(9);
  torch::Tensor h = torch::randn({128, 128}).requires_grad_(true);
  torch::Tensor w = (torch::randn({kGenes, 128}) * 0.1).requires_grad_(true);
  torch::Tensor b = torch::randn({kGenes}).requires_grad_(true);
  for (auto _ : state) {
    for (auto* t : {&h, &w, &b}) t->mutable_grad() = torch::Tensor();
    torch::Tensor y = parallel ? model::parallel_linear(h, w, b)
                               : torch::nn::functional::linear(h, w, b);
    y.backward(torch::ones_like(y));
    benchmark::DoNotOptimize(w.grad().data_ptr());
  }
  state.SetLabel(parallel ? "parallel_linear" : "torch linear");
}
BENCHMARK(BM_Linear)
    ->ComputeStatistics("min", fastest)
    ->DenseRange(0, 1)
    ->ArgName("parallel")
    ->Unit(benchmark::kMicrosecond);

// ---- batch norm + ReLU --------------------------------------------------------------------------

// Args: fused (1) or torch (0); cells.
void BM_BatchNorm(benchmark::State& state) {
  const bool fused = state.range(0) == 1;
  const std::int64_t cells = state.range(1);
  torch::manual_seed(4);
  torch::Tensor h = torch::randn({cells, 128}).requires_grad_(true);
  torch::nn::BatchNorm1d bn(torch::nn::BatchNorm1dOptions(128).momentum(0.01).eps(1e-3));
  bn->train();
  for (auto _ : state) {
    for (auto* t : {&h, &bn->weight, &bn->bias}) t->mutable_grad() = torch::Tensor();
    torch::Tensor y = fused ? model::batch_norm_relu_train(h, bn->weight, bn->bias,
                                                           bn->running_mean, bn->running_var,
                                                           0.01, 1e-3, true)
                            : torch::relu(bn->forward(h));
    y.backward(torch::ones_like(y));
    benchmark::DoNotOptimize(h.grad().data_ptr());
  }
  state.SetLabel(fused ? "batch_norm_relu_train" : "BatchNorm1d + relu");
}
BENCHMARK(BM_BatchNorm)
    ->ComputeStatistics("min", fastest)
    ->ArgsProduct({{0, 1}, {32, 128, 512}})
    ->ArgNames({"fused", "cells"})
    ->Unit(benchmark::kMicrosecond);

// ---- the decoder's count mean ---------------------------------------------------------------

// library_softmax against exp(log library) * softmax.
void BM_LibrarySoftmax(benchmark::State& state) {
  const bool fused = state.range(0) == 1;
  const std::int64_t cells = state.range(1), genes = state.range(2);
  torch::manual_seed(5);
  torch::Tensor h = (torch::randn({cells, genes}) * 2).requires_grad_(true);
  const torch::Tensor log_library = torch::rand({cells, 1}) * 3 + 6;
  const torch::Tensor up = torch::randn({cells, genes});
  for (auto _ : state) {
    h.mutable_grad() = torch::Tensor();
    torch::Tensor mu = fused ? model::library_softmax(h, log_library)
                             : torch::exp(log_library) * torch::softmax(h, 1);
    mu.backward(up);
    benchmark::DoNotOptimize(h.grad().data_ptr());
  }
  state.SetLabel(fused ? "library_softmax" : "exp(l) * softmax");
}
BENCHMARK(BM_LibrarySoftmax)
    ->ArgNames({"fused", "cells", "genes"})
    ->Args({0, 128, kGenes})
    ->Args({1, 128, kGenes})
    ->Args({0, 128, 20000})
    ->Args({1, 128, 20000})
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(3)
    ->ComputeStatistics("min", fastest)
    ->ReportAggregatesOnly(true);

// ---- batch assembly ---------------------------------------------------------------------------

// Args: 0 dense only, 1 dense + CSR, 2 dense + CSR with reused buffers.
void BM_MakeBatch(benchmark::State& state) {
  static const data::CellData data = [] {
    data::CellData d;
    d.counts = random_counts(12000, kGenes, 0.27, 5);
    d.batches.assign(12000, 1);
    return d;
  }();
  Rng rng(6);
  std::vector<std::int64_t> order(12000);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  rng.shuffle(order);
  std::vector<std::int64_t> rows(order.begin(), order.begin() + 128);
  data::BatchOptions options;
  options.sparse = state.range(0) >= 1;
  data::BatchBuffers buffers;
  for (auto _ : state) {
    model::CellBatch b =
        data::make_batch(data, rows, options, state.range(0) == 2 ? &buffers : nullptr);
    benchmark::DoNotOptimize(b.x.data_ptr());
  }
  const char* labels[] = {"dense", "dense+csr", "dense+csr reused buffers"};
  state.SetLabel(labels[state.range(0)]);
}
BENCHMARK(BM_MakeBatch)
    ->ComputeStatistics("min", fastest)
    ->DenseRange(0, 2)->ArgName("variant")->Unit(benchmark::kMicrosecond);

// ---- optimizer step ---------------------------------------------------------------------------

// The trainable parameter shapes of the scvi preset on kang_pbmc (1,287 genes, 4 donors) and of
// the vaexprs preset.
std::vector<std::vector<std::int64_t>> model_shapes(bool scvi) {
  if (scvi)
    return {{128, 1287}, {128}, {128}, {128}, {10, 128}, {10}, {10, 128}, {10},
            {128, 14},   {128}, {128}, {128}, {1287, 128}, {1287}, {1287}, {1287, 128}, {1287}};
  return {{256, 1287}, {256}, {2, 256}, {2}, {2, 256}, {2}, {256, 2}, {256}, {1287, 256}, {1287}};
}

// Args: fused (1) or torch (0); scvi (1) or vaexprs (0) shapes. One iteration = the
// optimizer-side work of a training step: zero_grad + accumulating the new gradient into it
// (torch) or clearing and storing it (fused), then step().
void BM_AdamStep(benchmark::State& state) {
  const bool fused = state.range(0) == 1;
  torch::manual_seed(7);
  std::vector<torch::Tensor> params, grads;
  std::int64_t total = 0;
  for (const auto& shape : model_shapes(state.range(1) == 1)) {
    params.push_back(torch::randn(shape).requires_grad_(true));
    grads.push_back(torch::randn(shape) * 0.01);
    total += params.back().numel();
  }
  const auto options = torch::optim::AdamOptions(1e-3).eps(0.01).weight_decay(1e-6);
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (fused)
    opt = std::make_unique<train::FusedAdam>(params, options);
  else
    opt = std::make_unique<torch::optim::Adam>(params, options);
  for (auto _ : state) {
    if (fused) {
      train::clear_gradients(params);
      for (std::size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads[i];
    } else {
      opt->zero_grad();
      for (std::size_t i = 0; i < params.size(); ++i) {
        if (params[i].grad().defined())
          params[i].mutable_grad().add_(grads[i]);  // what AccumulateGrad does
        else
          params[i].mutable_grad() = grads[i].clone();
      }
    }
    opt->step();
  }
  state.SetItemsProcessed(state.iterations() * total);
  state.SetLabel(std::string(fused ? "FusedAdam + clear_gradients" : "torch Adam + zero_grad") +
                 ", " + std::to_string(total) + " parameters");
}
BENCHMARK(BM_AdamStep)
    ->ComputeStatistics("min", fastest)
    ->ArgsProduct({{0, 1}, {1, 0}})
    ->ArgNames({"fused", "scvi"})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  cellvae::reexec_with_passive_openmp(argv);
  const char* env = std::getenv("CELLVAE_BENCH_THREADS");
  const cellvae::ThreadSetup setup = cellvae::configure_threads(env ? std::atoi(env) : 2);
  benchmark::AddCustomContext("torch_threads", std::to_string(setup.torch_threads));
  benchmark::AddCustomContext("blas_threads", std::to_string(setup.blas_threads));
  benchmark::AddCustomContext("OMP_WAIT_POLICY",
                              std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY")
                                                             : "");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
