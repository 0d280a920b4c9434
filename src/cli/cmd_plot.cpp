// `cellvae plot history|qc|embedding|architecture`: pictures of a training run, of generated
// cells and of a model, as PNG, SVG or PDF by the output's extension.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cellvae/atomic_output.hpp"
#include "cellvae/error.hpp"
#include "cellvae/plot/architecture.hpp"
#include "cellvae/plot/plots.hpp"
#include "cellvae/threads.hpp"
#include "cli_common.hpp"
#include "commands.hpp"

namespace cellvae::cli {

namespace {

namespace fs = std::filesystem;

struct OutputArgs {
  std::string out;
  bool force = false;
};

void add_output_flags(CLI::App* cmd, OutputArgs& o) {
  cmd->add_option("-o,--output", o.out, "image to write: .png, .svg or .pdf")->required();
  cmd->add_flag("--force", o.force, "replace an existing output");
}

/// The format from the extension and the --force check, before any work is done.
plot::ImageFormat check_output(const OutputArgs& o) {
  const plot::ImageFormat format = plot::image_format_for(o.out);
  if (!o.force && fs::exists(o.out))
    throw InputError("output " + o.out + " exists; use --force to replace it");
  return format;
}

void save(const plot::Figure& figure, const OutputArgs& o, plot::ImageFormat format) {
  AtomicOutput file(o.out);
  figure.save(file.temp_path(), format);
  file.commit();
  std::cerr << "cellvae: wrote " << o.out << '\n';
}

train::History read_history(const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw InputError(dir.string() + " is not a cellvae model directory: no such folder");
  const fs::path file = dir / "history.json";
  std::ifstream in(file);
  if (!in)
    throw InputError(dir.string() + " is not a cellvae model directory: no history.json");
  try {
    return train::history_from_json(nlohmann::json::parse(in));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file.string() + " is not a valid training history: " + e.what());
  }
}

void add_history(CLI::App* plot) {
  struct Args {
    std::string model, title;
    OutputArgs out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = plot->add_subcommand(
      "history", "Loss per epoch (total, reconstruction, KL), train vs validation, with the "
                 "epoch the model keeps marked");
  cmd->add_option("MODEL_DIR", args->model, "model directory written by 'cellvae fit'")
      ->required();
  cmd->add_option("--title", args->title, "figure title (default: from the folder name)");
  add_output_flags(cmd, args->out);
  cmd->callback([args] {
    const plot::ImageFormat format = check_output(args->out);
    const train::History history = read_history(args->model);
    plot::HistoryPlotOptions options;
    options.title = args->title.empty()
                        ? "Training history: " + fs::path(args->model).lexically_normal()
                                                     .filename().string()
                        : args->title;
    if (options.title == "Training history: ")  // "model/" has an empty filename
      options.title += fs::path(args->model).lexically_normal().parent_path().filename().string();
    save(plot::history_figure(history, options), args->out, format);
  });
}

void add_qc(CLI::App* plot) {
  struct Args {
    std::string real, generated, real_format, title;
    ReadOptions read;
    int bins = 40;
    OutputArgs out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = plot->add_subcommand(
      "qc", "Real vs generated counts: library size and zero-fraction distributions, gene "
            "mean-variance and mean-zero-fraction (on the genes both share)");
  cmd->add_option("REAL", args->real, "real cells (any input format)")->required();
  cmd->add_option("GENERATED", args->generated, "generated cells, e.g. from 'cellvae generate'")
      ->required();
  cmd->add_option("--bins", args->bins, "histogram bins")
      ->capture_default_str()->check(CLI::Range(2, 500));
  cmd->add_option("--title", args->title, "figure title");
  add_read_flags(cmd, args->read, args->real_format);  // for REAL; GENERATED is read as is
  add_output_flags(cmd, args->out);
  cmd->callback([args] {
    const plot::ImageFormat format = check_output(args->out);
    const Dataset real = read_input(args->real, args->read, args->real_format);
    const Dataset gen = read_input(args->generated, ReadOptions{}, "");
    plot::QcPlotOptions options;
    options.bins = args->bins;
    if (!args->title.empty()) options.title = args->title;
    const plot::QcFigure fig = plot::qc_figure(real, gen, options);
    std::cerr << "cellvae: " << fig.n_shared_genes << " shared genes\n";
    save(fig.figure, args->out, format);
  });
}

void add_embedding(CLI::App* plot) {
  struct Args {
    std::string data, generated, data_format, method = "pca";
    ReadOptions read;
    plot::EmbeddingPlotOptions options;
    std::optional<int> threads;
    OutputArgs out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = plot->add_subcommand(
      "embedding", "Real (and generated) cells in one PCA, UMAP or t-SNE of both together, coloured "
                   "by origin or by any obs column");
  cmd->add_option("DATA", args->data, "real cells (any input format)")->required();
  cmd->add_option("GENERATED", args->generated, "generated cells (optional)");
  cmd->add_option("--method", args->method,
                  "pca | umap | tsne (umap and tsne start from the first --n-pcs components)")
      ->capture_default_str();
  cmd->add_option("--n-pcs", args->options.n_pcs, "principal components umap and tsne start from")
      ->capture_default_str()->check(CLI::Range(std::int64_t{2}, std::int64_t{1000}));
  cmd->add_option("--color-by", args->options.color_by,
                  "obs column to colour by; 'origin' = real vs generated (a data set's own "
                  "'origin' column when only DATA is given)")
      ->capture_default_str();
  cmd->add_option("--shape-by", args->options.shape_by,
                  "categorical obs column (or 'origin') whose categories get marker shapes, "
                  "at most " +
                      std::to_string(plot::kMarkerCount) +
                      "; e.g. --color-by origin --shape-by cell_type");
  cmd->add_option("--n-top-genes", args->options.n_top_genes,
                  "most variable genes (log-normalized) the PCA uses")
      ->capture_default_str()->check(CLI::Range(std::int64_t{2}, std::int64_t{1} << 40));
  cmd->add_option("--seed", args->options.seed, "seed of the PCA, UMAP or t-SNE and of the drawing order")
      ->capture_default_str();
  cmd->add_option("--title", args->options.title, "figure title");
  cmd->add_option("--threads", args->threads, "CPU threads (default: all cores)");
  add_read_flags(cmd, args->read, args->data_format);  // for DATA; GENERATED is read as is
  add_output_flags(cmd, args->out);
  cmd->callback([args] {
    args->options.method = plot::parse_embedding_method(args->method);
    const plot::ImageFormat format = check_output(args->out);
    if (args->threads) configure_threads(*args->threads);
    const Dataset real = read_input(args->data, args->read, args->data_format);
    std::optional<Dataset> gen;
    if (!args->generated.empty()) gen = read_input(args->generated, ReadOptions{}, "");
    const plot::EmbeddingFigure fig =
        plot::embedding_figure(real, gen ? &*gen : nullptr, args->options);
    for (const auto& w : fig.warnings) std::cerr << "cellvae: warning: " << w << '\n';
    save(fig.figure, args->out, format);
  });
}

/// "model" for "runs/model/" as for "runs/model".
std::string folder_name(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

void add_architecture(CLI::App* plot) {
  struct Args {
    std::string model, title, colors, rankdir = "TB";
    OutputArgs out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd =
      plot->add_subcommand("architecture",
                           "The model's layers and their shapes as a diagram (Graphviz), coloured "
                           "by role; -o FILE.dot writes the DOT text instead");
  cmd->add_option("MODEL_DIR", args->model, "model directory written by 'cellvae fit'")->required();
  cmd->add_option("--colors", args->colors,
                  "role colours, e.g. encoder=#88CCEE,decoder=#44AA99; roles: input, encoder, "
                  "mean, variance, latent, prior, library, decoder, output, condition");
  cmd->add_option("--rankdir", args->rankdir, "layout direction: TB (top to bottom) or LR")
      ->capture_default_str();
  cmd->add_option("--title", args->title,
                  "title above the diagram (default: the folder name and preset; '' for none)");
  add_output_flags(cmd, args->out);
  cmd->callback([args, cmd] {
    // Options first (they name the flag), then the output, then the model directory.
    plot::ArchitectureOptions options;
    options.colors = plot::parse_role_colors(args->colors);
    try {
      options.rankdir = plot::parse_rank_dir(args->rankdir);
    } catch (const InputError& e) {
      throw InputError(std::string("--rankdir: ") + e.what());
    }
    const std::string ext = fs::path(args->out.out).extension().string();
    const bool dot_text = ext == ".dot" || ext == ".gv";
    std::optional<plot::ImageFormat> format;
    if (dot_text) {
      if (!args->out.force && fs::exists(args->out.out))
        throw InputError("output " + args->out.out + " exists; use --force to replace it");
    } else {
      format = check_output(args->out);
    }
    const plot::ModelArchitecture arch = plot::read_model_architecture(args->model);
    options.covariates = arch.covariates;
    if (cmd->count("--title") > 0) {
      options.title = args->title;
    } else {
      options.title = folder_name(args->model);
      if (arch.preset)
        options.title += " · " + std::string(pipeline::to_string(*arch.preset)) + " preset";
    }
    const std::string dot = plot::architecture_dot(arch.config, options);
    const std::string bytes = format ? plot::render_dot(dot, *format) : dot;
    AtomicOutput file(args->out.out);
    {
      std::ofstream f(file.temp_path(), std::ios::binary);
      f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!f) throw InputError("cannot write " + args->out.out);
    }
    file.commit();
    std::cerr << "cellvae: wrote " << args->out.out << '\n';
  });
}

}  // namespace

void add_plot_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "plot",
      "Pictures (PNG, SVG or PDF by the output's extension): training history, real vs "
      "generated QC, embeddings, model architecture");
  cmd->require_subcommand(1);
  add_history(cmd);
  add_qc(cmd);
  add_embedding(cmd);
  add_architecture(cmd);
}

}  // namespace cellvae::cli
