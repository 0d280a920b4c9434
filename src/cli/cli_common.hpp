// Pieces every subcommand shares: the input-reading flags and printing reader warnings.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "cellvae/dataset.hpp"
#include "cellvae/io.hpp"

namespace cellvae::cli {

/// Flags that choose what to read from an input file, stored into `options`:
/// --layer, --raw, --transpose, --format, --genome.
void add_read_flags(CLI::App* cmd, ReadOptions& options, std::string& format_name);

/// Resolves --format into options and reads the file.
Dataset read_input(const std::string& path, ReadOptions options, const std::string& format_name);

/// Prints the reader's warnings ("cellvae: warning: ...") on stderr.
void print_warnings(const Dataset& ds);

}  // namespace cellvae::cli
