// The `cellvae` program: parses the command line and turns errors into exit codes
// (0 success, 2 bad input or usage, 1 internal error).
#include <CLI/CLI.hpp>

#include <iostream>

#include "cellvae/allocator.hpp"
#include "cellvae/error.hpp"
#include "cellvae/threads.hpp"
#include "commands.hpp"

int main(int argc, char** argv) {
  // Before anything else: OpenMP's spin-waiting makes epochs 4x slower on a busy machine, and
  // libgomp reads its policy only at load time (see threads.hpp).
  cellvae::reexec_with_passive_openmp(argv);
  cellvae::keep_freed_memory_for_reuse();  // minibatch tensors reused, not refaulted
  CLI::App app{
      "cellvae: variational autoencoders that learn single-cell count matrices and generate "
      "realistic new cells"};
  app.name("cellvae");
  app.set_version_flag("--version", [] {
    return std::string("cellvae ") + CELLVAE_VERSION + " (" + cellvae::runtime_description() + ")";
  });
  app.require_subcommand(1);
  app.fallthrough(false);

  cellvae::cli::add_info_command(app);
  cellvae::cli::add_convert_command(app);
  cellvae::cli::add_simulate_command(app);
  cellvae::cli::add_preprocess_command(app);
  cellvae::cli::add_fit_command(app);
  cellvae::cli::add_score_command(app);
  cellvae::cli::add_generate_command(app);
  cellvae::cli::add_augment_command(app);
  cellvae::cli::add_embed_command(app);
  cellvae::cli::add_denoise_command(app);
  cellvae::cli::add_cluster_command(app);
  cellvae::cli::add_evaluate_command(app);
  cellvae::cli::add_plot_command(app);
  cellvae::cli::add_report_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "cellvae: error: " << e.what() << "\nRun 'cellvae --help' for usage.\n";
    return 2;
  } catch (const cellvae::InputError& e) {
    std::cerr << "cellvae: error: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "cellvae: internal error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
