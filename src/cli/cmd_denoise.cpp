// `cellvae denoise MODEL_DIR DATA -o OUT`: each cell's expected expression under the model,
// optionally at a common depth and as if it came from one batch.
#include <iostream>

#include "cellvae/io.hpp"
#include "cellvae/pipeline/latent.hpp"
#include "cli_common.hpp"
#include "commands.hpp"
#include "latent_cli.hpp"

namespace cellvae::cli {

void add_denoise_command(CLI::App& app) {
  struct Args {
    ModelDataArgs io;
    std::string out;
    std::optional<double> library_size;
    std::optional<std::string> transform_batch;
    bool genes_as_rows = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "denoise", "Expected (denoised) expression of each cell, optionally as if from another batch");
  cmd->footer(
      "The mean of the model's likelihood (mu for poisson/nb, (1 - pi) mu for zip/zinb) decoded "
      "at the posterior mean of z (one deterministic decode, no sampling), for the model's genes. "
      "Count models decode each cell at its own total count unless --library-size is given; "
      "VAExprs-style models give log2-normalized values. The output keeps DATA's cells and obs.");
  add_model_data_args(cmd, args->io);
  cmd->add_option("-o,--output", args->out,
                  "output: .h5ad, .csv, .tsv, or a folder name for a 10x matrix folder")
      ->required();
  cmd->add_option("--library-size", args->library_size,
                  "decode every cell at this total count (models with a library size; e.g. "
                  "10000 for values per 10k)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--transform-batch", args->transform_batch,
                  "decode every cell as if it came from this batch (a category of the model's "
                  "batch key): expression with the batch effect removed");
  cmd->add_flag("--genes-as-rows", args->genes_as_rows,
                "csv/tsv output: genes as rows, cells as columns (as R users expect)");
  cmd->callback([args] {
    // Options are checked against the model before the (possibly large) data are read.
    check_output_free(args->out, args->io.force);
    pipeline::DenoiseOptions options;
    options.library_size = args->library_size;
    options.transform_batch = args->transform_batch;
    options.batch_size = args->io.batch_size;
    const pipeline::TrainedModel m = load_model(args->io);
    pipeline::check_denoise_options(m, options);
    const Dataset ds = read_data(args->io);
    const data::CellData cells = pipeline::cells_to_denoise(m, ds, options);
    pipeline::Denoised d = pipeline::denoise(m, cells, options);

    Dataset out;
    out.X = std::move(d.expression);
    out.obs = ds.obs;
    out.var = model_gene_var(m, ds);
    out.obsm = ds.obsm;
    if (options.library_size) out.uns["cellvae_denoise_library_size"] = *options.library_size;
    if (options.transform_batch)
      out.uns["cellvae_denoise_transform_batch"] = *options.transform_batch;
    WriteOptions write;
    write.transpose = args->genes_as_rows;
    write_dataset(out, args->out, write);
    std::cerr << "denoise: " << out.n_cells() << " cells x " << out.n_genes() << " genes";
    if (options.library_size) std::cerr << " at library size " << *options.library_size;
    if (options.transform_batch) std::cerr << " as batch '" << *options.transform_batch << "'";
    std::cerr << " -> " << args->out << '\n';
  });
}

}  // namespace cellvae::cli
