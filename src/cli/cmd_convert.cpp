// `cellvae convert IN OUT`: between .h5ad, 10x folders and CSV/TSV.
#include <iostream>

#include "cellvae/io.hpp"
#include "cli_common.hpp"
#include "commands.hpp"

namespace cellvae::cli {

void add_convert_command(CLI::App& app) {
  struct Args {
    std::string in, out, in_format, out_format;
    ReadOptions read;
    WriteOptions write;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Convert between .h5ad, 10x (.h5 in; matrix folder in/out), .csv and .tsv");
  cmd->add_option("IN", args->in, "input file or 10x matrix folder")->required();
  cmd->add_option("OUT", args->out,
                  "output: .h5ad, .csv, .tsv, or a folder name for a 10x matrix folder")
      ->required();
  add_read_flags(cmd, args->read, args->in_format);
  cmd->add_option("--to", args->out_format, "output format: h5ad, 10x-mtx, csv, tsv");
  cmd->add_flag("--genes-as-rows", args->write.transpose,
                "csv/tsv output: genes as rows, cells as columns (as R users expect)");
  cmd->add_option("--compression", args->write.compression, "gzip level (0-9) for .h5ad, 10x folders and .csv.gz/.tsv.gz")
      ->check(CLI::Range(0, 9));
  cmd->callback([args] {
    const Dataset ds = read_input(args->in, args->read, args->in_format);
    WriteOptions write = args->write;
    if (!args->out_format.empty()) write.format = parse_file_format(args->out_format);
    write_dataset(ds, args->out, write);
    std::cerr << "wrote " << ds.n_cells() << " cells x " << ds.n_genes() << " genes to "
              << args->out << '\n';
  });
}

}  // namespace cellvae::cli
