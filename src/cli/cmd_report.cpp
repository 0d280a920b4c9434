// `cellvae report RUN_DIR -o report.html`: one self-contained HTML page about an augment run.
#include <filesystem>
#include <iostream>
#include <memory>

#include "cellvae/error.hpp"
#include "cellvae/report/report.hpp"
#include "commands.hpp"

namespace cellvae::cli {

void add_report_command(CLI::App& app) {
  struct Args {
    std::string run_dir, out, cells, title, method = "umap";
    report::ReportOptions options;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd =
      app.add_subcommand("report",
                         "One self-contained HTML page about an augment run: configuration, "
                         "architecture, training curves, embedding, QC and metrics");
  cmd->footer(
      "The page works offline and loads nothing from elsewhere: figures are embedded. "
      "'cellvae augment' writes it into its run folder as report.html.");
  cmd->add_option("RUN_DIR", args->run_dir, "run folder written by 'cellvae augment'")->required();
  cmd->add_option("-o,--output", args->out, "HTML file to write")->required();
  cmd->add_option("--cells", args->cells,
                  "the augmented output (real + generated cells) when it has moved "
                  "(default: the output named in RUN_DIR/augment.json)");
  cmd->add_option("--max-cells", args->options.max_cells,
                  "cells drawn from each of the held-out real and generated cells for the "
                  "figures")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{10}, std::int64_t{1} << 40));
  cmd->add_option("--method", args->method, "embedding: pca | umap | tsne")->capture_default_str();
  cmd->add_option("--seed", args->options.seed, "seed of the subsamples and the embedding")
      ->capture_default_str();
  cmd->add_option("--title", args->title, "page title (default: from the run folder's name)");
  cmd->add_flag("--force", args->force, "replace an existing output");
  cmd->callback([args] {
    args->options.embedding_method = plot::parse_embedding_method(args->method);
    if (std::filesystem::exists(args->out) && !args->force)
      throw InputError("output " + args->out + " exists; use --force to replace it");
    if (!args->cells.empty()) args->options.cells = args->cells;
    args->options.title = args->title;
    const report::RunReport r = report::write_run_report(args->run_dir, args->out, args->options);
    for (const auto& w : r.warnings) std::cerr << "cellvae: warning: " << w << '\n';
    std::cerr << "cellvae: wrote " << args->out << '\n';
  });
}

}  // namespace cellvae::cli
