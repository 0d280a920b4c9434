// `cellvae generate MODEL_DIR -n N -o OUT`: new cells from a trained model, as counts, written
// in chunks so that any number of cells fits in memory.
#include <chrono>
#include <iostream>
#include <memory>

#include "cellvae/error.hpp"
#include "cellvae/generate/cell_generator.hpp"
#include "cellvae/pipeline/model_dir.hpp"
#include "cellvae/pipeline/write_generated.hpp"
#include "cellvae/threads.hpp"
#include "cli_common.hpp"
#include "commands.hpp"
#include "generate_flags.hpp"
#include "progress.hpp"

namespace cellvae::cli {

void add_generate_command(CLI::App& app) {
  struct Args {
    std::string model, out, from, with_real, in_format;
    ReadOptions read;
    GenerateFlags gen;
    std::optional<int> threads;
    bool force = false, quiet = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "generate", "Draw new cells from a trained model (counts; conditioned on label or batch)");
  cmd->add_option("MODEL_DIR", args->model, "model directory written by 'cellvae fit'")
      ->required();
  cmd->add_option("-o,--output", args->out,
                  "output: .h5ad, .csv/.tsv or a 10x matrix folder (no extension)")
      ->required();
  add_generate_flags(cmd, args->gen);
  cmd->add_option("--from", args->from,
                  "real cells to draw around (--sampler posterior; any input format)");
  cmd->add_option("--with-real", args->with_real,
                  "also write these real cells first (origin = real), as VAExprs returns both");
  cmd->add_option("--threads", args->threads, "CPU threads (default: all cores)");
  cmd->add_flag("--force", args->force, "replace an existing output");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress output");
  add_read_flags(cmd, args->read, args->in_format);
  cmd->callback([args] {
    const auto started = std::chrono::steady_clock::now();
    if (args->threads) configure_threads(*args->threads);
    const pipeline::TrainedModel model = pipeline::load_model_dir(args->model);
    generate::GenerateOptions options = resolve_generate_options(args->gen);

    std::unique_ptr<data::CellData> from;
    if (!args->from.empty()) {
      const Dataset ds = read_input(args->from, args->read, args->in_format);
      print_warnings(ds);
      from = std::make_unique<data::CellData>(pipeline::cell_data_for(model, ds));
      if (!args->gen.n_cells) options.n_cells = from->counts.n_rows;
    }
    std::unique_ptr<Dataset> real;
    if (!args->with_real.empty()) {
      real = std::make_unique<Dataset>(read_input(args->with_real, args->read, args->in_format));
      print_warnings(*real);
    }

    generate::CellGenerator generator(model, options, from.get());
    pipeline::GeneratedOutputOptions out;
    out.writer.force = args->force;
    out.real = real.get();
    out.uns["cellvae_model"] = std::filesystem::absolute(args->model).string();
    const bool show = !args->quiet && TrainingProgress::stderr_is_terminal();
    if (show)
      out.on_progress = [](std::int64_t done, std::int64_t total) {
        std::cerr << "\rgenerate: " << done << " / " << total << " cells" << std::flush;
      };
    const std::int64_t n = pipeline::write_generated(generator, model, args->out, out);
    if (show) std::cerr << '\n';
    if (!args->quiet) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      print_generation_summary(generator, model, n, seconds, args->out);
    }
  });
}

}  // namespace cellvae::cli
