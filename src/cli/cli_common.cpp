#include "cli_common.hpp"

#include <iostream>

#include "cellvae/file_format.hpp"

namespace cellvae::cli {

void add_read_flags(CLI::App* cmd, ReadOptions& options, std::string& format_name) {
  cmd->add_option("--layer", options.layer, "h5ad: read layers/NAME instead of X (e.g. counts)");
  cmd->add_flag("--raw", options.use_raw, "h5ad: read raw/X instead of X");
  cmd->add_flag("--transpose", options.transpose,
                "csv/tsv: the table has genes as rows and cells as columns (as R writes it)");
  cmd->add_option("--format", format_name,
                  "input format: h5ad, 10x-h5, 10x-mtx, csv, tsv (default: from the path)");
  cmd->add_option("--genome", options.genome, "10x h5 (Cell Ranger v2): genome group to read");
}

Dataset read_input(const std::string& path, ReadOptions options, const std::string& format_name) {
  if (!format_name.empty()) options.format = parse_file_format(format_name);
  Dataset ds = read_dataset(path, options);
  print_warnings(ds);
  return ds;
}

void print_warnings(const Dataset& ds) {
  for (const auto& w : ds.warnings) std::cerr << "cellvae: warning: " << w << '\n';
}

}  // namespace cellvae::cli
