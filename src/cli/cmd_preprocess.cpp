// `cellvae preprocess DATA -o OUT --state STATE`: filters and highly variable genes, with the
// decisions saved as JSON so that later steps can redo them on new data.
#include <cstdint>
#include <iostream>
#include <utility>

#include "cellvae/count_check.hpp"
#include "cellvae/io.hpp"
#include "cellvae/preprocess/preprocess.hpp"
#include "cli_common.hpp"
#include "commands.hpp"

namespace cellvae::cli {

void add_preprocess_command(CLI::App& app) {
  struct Args {
    std::string in, in_format, out, state;
    ReadOptions read;
    PreprocessOptions pre;
    bool allow_non_integer = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "preprocess",
      "Filter cells and genes, select highly variable genes (Seurat v3), save the state");
  cmd->add_option("DATA", args->in, "count matrix: .h5ad, 10x .h5 or folder, .csv, .tsv")
      ->required();
  cmd->add_option("-o,--output", args->out, "filtered counts (.h5ad, .csv, .tsv, 10x folder)")
      ->required();
  cmd->add_option("--state", args->state, "write the preprocessing state here (JSON)");
  add_read_flags(cmd, args->read, args->in_format);
  FilterOptions& f = args->pre.filter;
  cmd->add_option("--min-cells", f.min_cells_per_gene, "keep genes detected in >= N cells")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-genes", f.min_genes_per_cell, "keep cells with >= N detected genes")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-counts", f.min_counts_per_cell, "keep cells with >= N total counts")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-counts", f.max_counts_per_cell, "keep cells with <= N total counts")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--n-top-genes", args->pre.n_top_genes,
                  "keep the N most variable genes (Seurat v3 on counts; default: all)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--hvg-span", args->pre.hvg_span, "loess span of the mean-variance trend")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--batch-key", args->pre.batch_key,
                  "obs column with batches (HVGs chosen per batch; batch encoder saved)");
  cmd->add_option("--label-key", args->pre.label_key,
                  "obs column with cell labels (label encoder saved)");
  cmd->add_flag("--allow-non-integer", args->allow_non_integer,
                "accept non-integer values (e.g. RPKM); counts are required otherwise");
  cmd->callback([args] {
    Dataset ds = read_input(args->in, args->read, args->in_format);
    check_counts(ds, {args->allow_non_integer});
    const std::int64_t n_cells = ds.n_cells(), n_genes = ds.n_genes();
    const PreprocessResult result = preprocess(std::move(ds), args->pre);
    for (const auto& w : result.warnings) std::cerr << "cellvae: warning: " << w << '\n';
    write_dataset(result.data, args->out);
    if (!args->state.empty()) write_preprocess_state(result.state, args->state);
    std::cerr << "kept " << result.data.n_cells() << " of " << n_cells << " cells and "
              << result.data.n_genes() << " of " << n_genes << " genes";
    if (result.hvg) std::cerr << " (highly variable)";
    std::cerr << " -> " << args->out << '\n';
  });
}

}  // namespace cellvae::cli
