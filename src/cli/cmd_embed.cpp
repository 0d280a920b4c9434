// `cellvae embed MODEL_DIR DATA -o OUT`: the cells' posterior means in the model's latent space,
// stored where scanpy looks for an embedding (obsm["X_cellvae"]).
#include <iostream>

#include "cellvae/error.hpp"
#include "cellvae/file_format.hpp"
#include "cellvae/io.hpp"
#include "cellvae/pipeline/latent.hpp"
#include "cli_common.hpp"
#include "commands.hpp"
#include "latent_cli.hpp"

namespace cellvae::cli {
namespace {

DenseArray dense_of(const torch::Tensor& t) {
  const torch::Tensor d = t.to(torch::kCPU, torch::kDouble).contiguous();
  DenseArray a;
  a.rows = d.size(0);
  a.cols = d.size(1);
  a.values.assign(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
  return a;
}

}  // namespace

void add_embed_command(CLI::App& app) {
  struct Args {
    ModelDataArgs io;
    std::string out;
    bool all_genes = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "embed", "Latent coordinates of cells (posterior means) in obsm['X_cellvae'] for scanpy");
  cmd->footer(
      ".h5ad output: DATA's cells and obs with the embedding in obsm['X_cellvae'] (scanpy: "
      "sc.pp.neighbors(adata, use_rep='X_cellvae')); a Gaussian-mixture-prior model also adds "
      "obs['cellvae_cluster'] (most probable component) and obsm['cellvae_cluster_probabilities'] "
      "(q(y|x)). .csv/.tsv output: the embedding itself, cells x latent dimensions (columns "
      "cellvae_1..D).");
  add_model_data_args(cmd, args->io);
  cmd->add_option("-o,--output", args->out, "output: .h5ad, or .csv/.tsv for the embedding alone")
      ->required();
  cmd->add_flag("--all-genes", args->all_genes,
                ".h5ad output: keep X with every gene of DATA (default: X is DATA's values "
                "restricted to the model's genes, in the model's order)");
  cmd->callback([args] {
    const FileFormat format = detect_output_format(args->out);
    if (format != FileFormat::h5ad && format != FileFormat::csv && format != FileFormat::tsv)
      throw InputError("embed output " + args->out +
                       ": write .h5ad (embedding in obsm) or .csv/.tsv (the embedding as the "
                       "table); a 10x matrix folder cannot hold an embedding");
    check_output_free(args->out, args->io.force);
    const pipeline::TrainedModel m = load_model(args->io);
    const Dataset ds = read_data(args->io);
    const data::CellData cells = pipeline::cells_to_embed(m, ds);
    const pipeline::Embedding e = pipeline::embed(m, cells, {args->io.batch_size});
    const std::int64_t dims = e.latent_mean.size(1);

    Dataset out;
    if (format != FileFormat::h5ad) {
      // A text table holds one matrix: make the embedding that matrix.
      const torch::Tensor z = e.latent_mean.contiguous();
      out.X = csr_from_dense(z.data_ptr<float>(), z.size(0), dims);
      out.obs.index = ds.obs.index;
      for (std::int64_t d = 1; d <= dims; ++d)
        out.var.index.push_back("cellvae_" + std::to_string(d));
    } else {
      if (args->all_genes) {
        out = ds;
      } else {
        out.X = cells.counts;
        out.obs = ds.obs;
        out.var = model_gene_var(m, ds);
        out.obsm = ds.obsm;
        out.uns = ds.uns;
      }
      out.obsm["X_cellvae"] = dense_of(e.latent_mean);
      if (e.component_probabilities.defined()) {
        const auto k = e.component_probabilities.size(1);
        std::vector<std::string> names;
        for (std::int64_t c = 0; c < k; ++c) names.push_back(std::to_string(c));
        out.obs.set(Column::make_categorical("cellvae_cluster", names, e.components));
        out.obsm["cellvae_cluster_probabilities"] = dense_of(e.component_probabilities);
      }
    }
    write_dataset(out, args->out);
    std::cerr << "embed: " << out.n_cells() << " cells in " << dims << " latent dimensions"
              << (format == FileFormat::h5ad ? " (obsm['X_cellvae'])" : "")
              << (e.component_probabilities.defined() ? " with mixture components" : "") << " -> "
              << args->out << '\n';
  });
}

}  // namespace cellvae::cli
