// Where a training epoch's time goes: `bench_train_step FILE [options]` runs the steps of one
// training epoch the way train::Trainer does (shuffled minibatches, make_batch, VaeImpl::loss,
// backward, optimizer step) with a timer around each phase, and prints one JSON line per
// epoch (seconds per phase) and a summary. With --trace FILE the last epoch also runs under
// LibTorch's autograd profiler (a chrome://tracing file; bench/trace_summary.py sums it by op).
//
//   bench_train_step DATA.h5ad [--preset scvi|vaexprs] [--batch-key K] [--threads N]
//                    [--epochs E] [--plain] [--dense-input] [--torch-adam] [--kernels]
//                    [--trace FILE]
//
// By default the steps use the trainer's fast paths: fused likelihood, sparse first layer
// (ModelConfig::sparse_input auto), FusedAdam with cleared gradients, reused batch buffers.
// --plain turns all of them off (plain LibTorch likelihood, dense first layer,
// torch::optim::Adam with zero_grad, fresh batch tensors), to measure what they save;
// --dense-input and --torch-adam turn off one each.
// --kernels also times the hot kernels alone on one decoded minibatch (milliseconds per call,
// median of 50): the ZINB/NB likelihood forward+backward, fused (fast and exact) and plain.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cellvae/allocator.hpp"
#include "cellvae/data/cell_data.hpp"
#include "cellvae/io.hpp"
#include "cellvae/model/likelihood_fused.hpp"
#include "cellvae/model/vae.hpp"
#include "cellvae/pipeline/fit_options.hpp"
#include "cellvae/preprocess/input_transform.hpp"
#include "cellvae/preprocess/preprocess.hpp"
#include "cellvae/random.hpp"
#include "cellvae/threads.hpp"
#include "cellvae/train/fused_adam.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Args {
  std::string file, preset = "scvi", batch_key, trace;
  int threads = 2;
  int epochs = 3;
  bool plain = false;
  bool dense_input = false;
  bool torch_adam = false;
  bool kernels = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_train_step: %s needs a value\n", s.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (s == "--preset") a.preset = next();
    else if (s == "--batch-key") a.batch_key = next();
    else if (s == "--threads") a.threads = std::atoi(next().c_str());
    else if (s == "--epochs") a.epochs = std::atoi(next().c_str());
    else if (s == "--trace") a.trace = next();
    else if (s == "--plain") a.plain = a.dense_input = a.torch_adam = true;
    else if (s == "--dense-input") a.dense_input = true;
    else if (s == "--torch-adam") a.torch_adam = true;
    else if (s == "--kernels") a.kernels = true;
    else if (a.file.empty()) a.file = s;
    else {
      std::fprintf(stderr, "bench_train_step: unexpected argument %s\n", s.c_str());
      std::exit(2);
    }
  }
  if (a.file.empty()) {
    std::fprintf(stderr,
                 "usage: bench_train_step DATA.h5ad [--preset scvi|vaexprs] [--batch-key K] "
                 "[--threads N] [--epochs E] [--plain] [--trace FILE]\n");
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  using namespace cellvae;
  keep_freed_memory_for_reuse();  // as the cellvae program does
  const ThreadSetup threads = configure_threads(args.threads);

  pipeline::FitOptions fit = pipeline::preset_options(pipeline::parse_preset(args.preset));
  if (!args.batch_key.empty()) fit.preprocess.batch_key = args.batch_key;
  const Dataset ds = read_dataset(args.file);
  PreprocessResult pre = preprocess(ds, fit.preprocess);

  model::ModelConfig cfg = fit.model;
  cfg.n_genes = pre.data.n_genes();
  cfg.n_batches = pre.state.batches ? pre.state.batches->encoder.size() : 0;
  cfg.n_labels = 0;
  if (args.plain) cfg.fused_likelihood = false;
  if (args.dense_input) cfg.sparse_input = model::SparseInput::dense;

  data::CellData cells;
  cells.counts = pre.data.X;
  if (cfg.n_batches > 0) cells.batches = pre.batch_codes;
  std::vector<std::int64_t> rows(static_cast<std::size_t>(cells.counts.n_rows));
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);
  rows.resize(rows.size() * 9 / 10);  // the training cells of a 10% validation split
  if (cfg.input == model::InputKind::identity) cells.transform = fit_input_transform(cells.counts, rows);

  model::Vae vae(cfg);
  vae->train();
  const train::TrainOptions& o = fit.train;
  std::vector<torch::Tensor> params;
  for (const auto& p : vae->parameters())
    if (p.requires_grad()) params.push_back(p);
  const auto adam_options =
      torch::optim::AdamOptions(o.learning_rate).eps(o.adam_epsilon).weight_decay(o.weight_decay);
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  if (args.torch_adam)
    optimizer = std::make_unique<torch::optim::Adam>(params, adam_options);
  else
    optimizer = std::make_unique<train::FusedAdam>(params, adam_options);
  data::BatchBuffers buffers;
  torch::Generator gen = at::detail::createCPUGenerator(1);
  Rng rng(1);

  std::printf("{\"file\": \"%s\", \"preset\": \"%s\", \"cells\": %zu, \"genes\": %lld, "
              "\"torch_threads\": %d, \"blas_threads\": %d, \"plain\": %s, "
              "\"dense_input\": %s, \"torch_adam\": %s}\n",
              args.file.c_str(), args.preset.c_str(), rows.size(),
              static_cast<long long>(cfg.n_genes), threads.torch_threads, threads.blas_threads,
              args.plain ? "true" : "false", args.dense_input ? "true" : "false",
              args.torch_adam ? "true" : "false");
  std::vector<std::int64_t> order = rows, batch_rows;
  for (int epoch = 0; epoch < args.epochs; ++epoch) {
    std::unique_ptr<torch::autograd::profiler::RecordProfile> trace;
    if (!args.trace.empty() && epoch + 1 == args.epochs)
      trace = std::make_unique<torch::autograd::profiler::RecordProfile>(args.trace);
    std::map<std::string, double> t;
    rng.shuffle(order);
    const auto epoch_start = Clock::now();
    const auto n = static_cast<std::int64_t>(order.size());
    for (std::int64_t begin = 0; begin < n; begin += o.batch_size) {
      const std::int64_t end = std::min(n, begin + o.batch_size);
      if (end - begin < o.min_batch_cells) continue;
      auto t0 = Clock::now();
      batch_rows.assign(order.begin() + begin, order.begin() + end);
      model::CellBatch batch =
          data::make_batch(cells, batch_rows, {}, args.plain ? nullptr : &buffers);
      if (cfg.n_batches == 0) batch.batches = torch::Tensor();
      batch.labels = torch::Tensor();
      t["batch"] += since(t0);
      t0 = Clock::now();
      model::LossTerms terms = vae->loss(batch, gen, 0.01);
      torch::Tensor loss = terms.loss.mean();
      t["forward"] += since(t0);
      t0 = Clock::now();
      if (args.torch_adam)
        optimizer->zero_grad();
      else
        train::clear_gradients(params);
      loss.backward();
      t["backward"] += since(t0);
      t0 = Clock::now();
      optimizer->step();
      t["optimizer"] += since(t0);
      t0 = Clock::now();
      (void)loss.item<double>();
      t["item"] += since(t0);
    }
    const double total = since(epoch_start);
    std::printf("{\"epoch\": %d, \"seconds\": %.4f", epoch + 1, total);
    for (const auto& [k, v] : t) std::printf(", \"%s\": %.4f", k.c_str(), v);
    std::printf("}\n");
    std::fflush(stdout);
  }
  if (args.kernels && model::is_count_likelihood(cfg.likelihood)) {
    batch_rows.assign(order.begin(), order.begin() + std::min<std::int64_t>(o.batch_size, order.size()));
    model::CellBatch batch = data::make_batch(cells, batch_rows);
    if (cfg.n_batches == 0) batch.batches = torch::Tensor();
    batch.labels = torch::Tensor();
    model::LikelihoodParams p;
    {
      torch::NoGradGuard no_grad;
      model::Encoding enc = vae->encode(batch);
      torch::Tensor lib = torch::log(batch.x.sum(1, true).clamp_min(1.0));
      p = vae->decode(enc.z.z.mean, lib, batch.labels, batch.batches);
    }
    auto time_it = [&](const char* name, auto&& fn) {
      std::vector<double> ms;
      for (int i = 0; i < 55; ++i) {
        const auto t0 = Clock::now();
        fn();
        if (i >= 5) ms.push_back(1e3 * since(t0));
      }
      std::sort(ms.begin(), ms.end());
      std::printf("{\"kernel\": \"%s\", \"ms_median\": %.3f, \"cells\": %lld}\n", name,
                  ms[ms.size() / 2], static_cast<long long>(batch.x.size(0)));
    };
    const bool zi = p.zero_logits.defined();
    auto run = [&](bool fused, bool vectorized) {
      torch::Tensor mu = p.mean.detach().requires_grad_(true);
      torch::Tensor th = p.inverse_dispersion.detach().requires_grad_(true);
      torch::Tensor z = zi ? p.zero_logits.detach().requires_grad_(true) : torch::Tensor();
      model::FusedNbOptions fo;
      fo.vectorized = vectorized;
      torch::Tensor per_cell =
          fused ? model::fused_nb_log_prob_per_cell(batch.x, mu, th, z, fo)
                : (zi ? model::zinb_log_prob(batch.x, mu, th, z) : model::nb_log_prob(batch.x, mu, th))
                      .sum(1);
      per_cell.mean().backward();
    };
    time_it("likelihood_fused_fwd_bwd", [&] { run(true, true); });
    time_it("likelihood_fused_exact_fwd_bwd", [&] { run(true, false); });
    time_it("likelihood_plain_fwd_bwd", [&] { run(false, false); });
    time_it("make_batch", [&] { (void)data::make_batch(cells, batch_rows); });
  }
  return 0;
}
