// The subcommands of the `cellvae` program. Each adds itself to the app; its callback fills the
// options struct of a library function and calls it. Errors are InputError, turned into exit
// code 2 by main().
#pragma once

#include <CLI/CLI.hpp>

namespace cellvae::cli {

void add_info_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_simulate_command(CLI::App& app);
void add_preprocess_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_fit_command(CLI::App& app);
void add_score_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_augment_command(CLI::App& app);
void add_embed_command(CLI::App& app);
void add_denoise_command(CLI::App& app);
void add_cluster_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_report_command(CLI::App& app);

}  // namespace cellvae::cli
