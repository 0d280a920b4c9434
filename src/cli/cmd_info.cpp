// `cellvae info FILE`: what a data file holds, before anything is fitted to it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cellvae/io.hpp"
#include "cli_common.hpp"
#include "commands.hpp"

namespace cellvae::cli {

namespace {

struct ValueSummary {
  bool all_integer = true;
  bool any_negative = false;
  bool any_non_finite = false;
  double min = 0, max = 0;
};

ValueSummary summarize_values(const CsrMatrix& X) {
  ValueSummary s;
  bool first = true;
  for (float v : X.data) {
    if (!std::isfinite(v)) {
      s.any_non_finite = true;
      s.all_integer = false;
      continue;
    }
    if (v < 0) s.any_negative = true;
    if (std::nearbyint(v) != v) s.all_integer = false;
    if (first || v < s.min) s.min = v;
    if (first || v > s.max) s.max = v;
    first = false;
  }
  // Implicit zeros count towards the range when the matrix is not full.
  if (X.nnz() < X.n_rows * X.n_cols) {
    s.min = std::min(s.min, 0.0);
    s.max = std::max(s.max, 0.0);
  }
  return s;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const std::size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + m, v.end());
  double hi = v[m];
  if (v.size() % 2) return hi;
  return (hi + *std::max_element(v.begin(), v.begin() + m)) / 2;
}

nlohmann::json describe_column(const Column& c) {
  nlohmann::json j{{"name", c.name}, {"kind", to_string(c.kind)}};
  if (c.kind == ColumnKind::categorical) {
    std::vector<std::int64_t> counts(c.categories.size(), 0);
    std::int64_t missing = 0;
    for (auto code : c.codes) code < 0 ? ++missing : ++counts[code];
    nlohmann::json cats = nlohmann::json::array();
    for (std::size_t i = 0; i < c.categories.size(); ++i)
      cats.push_back({{"name", c.categories[i]}, {"count", counts[i]}});
    j["categories"] = cats;
    if (missing) j["missing"] = missing;
  } else if (c.kind == ColumnKind::number || c.kind == ColumnKind::integer) {
    double lo = INFINITY, hi = -INFINITY;
    for (std::size_t i = 0; i < c.size(); ++i) {
      const double v = c.kind == ColumnKind::number ? c.numbers[i] : double(c.integers[i]);
      if (std::isnan(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (lo <= hi) j["range"] = {lo, hi};
  } else if (c.kind == ColumnKind::boolean) {
    j["true"] = std::count(c.booleans.begin(), c.booleans.end(), 1);
  }
  return j;
}

nlohmann::json describe(const Dataset& ds, FileFormat format) {
  const auto& X = ds.X;
  const ValueSummary v = summarize_values(X);
  const double entries = double(X.n_rows) * double(X.n_cols);
  const std::vector<double> lib = row_sums(X);
  nlohmann::json j;
  j["file"] = ds.source;
  j["format"] = std::string(to_string(format));
  j["cells"] = X.n_rows;
  j["genes"] = X.n_cols;
  j["nonzeros"] = X.nnz();
  j["density"] = entries > 0 ? double(X.nnz()) / entries : 0.0;
  j["integer_values"] = v.all_integer;
  j["negative_values"] = v.any_negative;
  j["non_finite_values"] = v.any_non_finite;
  j["value_range"] = {v.min, v.max};
  if (!lib.empty())
    j["library_size"] = {{"min", *std::min_element(lib.begin(), lib.end())},
                         {"median", median(lib)},
                         {"max", *std::max_element(lib.begin(), lib.end())}};
  j["layers"] = ds.layers;
  for (const char* which : {"obs", "var"}) {
    const DataFrame& df = std::string(which) == "obs" ? ds.obs : ds.var;
    nlohmann::json cols = nlohmann::json::array();
    for (const auto& c : df.columns) cols.push_back(describe_column(c));
    j[which] = cols;
  }
  nlohmann::json obsm = nlohmann::json::object();
  for (const auto& [k, a] : ds.obsm) obsm[k] = {a.rows, a.cols};
  j["obsm"] = obsm;
  nlohmann::json uns = nlohmann::json::array();
  for (const auto& [k, value] : ds.uns) uns.push_back(k);
  j["uns"] = uns;
  j["warnings"] = ds.warnings;
  return j;
}

std::string thousands(std::int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > (n < 0 ? 1 : 0); i -= 3) s.insert(i, ",");
  return s;
}

void print_table(const nlohmann::json& j, std::ostream& out) {
  char buf[256];
  out << "file        " << j["file"].get<std::string>() << " (" << j["format"].get<std::string>()
      << ")\n";
  out << "cells       " << thousands(j["cells"]) << '\n';
  out << "genes       " << thousands(j["genes"]) << '\n';
  std::snprintf(buf, sizeof buf, "%s (%.1f%% of entries; %.1f%% zeros)",
                thousands(j["nonzeros"]).c_str(), 100 * j["density"].get<double>(),
                100 * (1 - j["density"].get<double>()));
  out << "nonzeros    " << buf << '\n';
  std::snprintf(buf, sizeof buf, "%s, range %g .. %g",
                j["integer_values"].get<bool>() ? "integers (counts)" : "non-integer",
                j["value_range"][0].get<double>(), j["value_range"][1].get<double>());
  out << "values      " << buf;
  if (j["negative_values"].get<bool>()) out << "; NEGATIVE values present (not counts)";
  if (j["non_finite_values"].get<bool>()) out << "; NaN/Inf present";
  out << '\n';
  if (j.contains("library_size")) {
    std::snprintf(buf, sizeof buf, "median %g (min %g, max %g)",
                  j["library_size"]["median"].get<double>(), j["library_size"]["min"].get<double>(),
                  j["library_size"]["max"].get<double>());
    out << "per cell    " << buf << '\n';
  }
  if (!j["layers"].empty()) {
    out << "layers     ";
    for (const auto& l : j["layers"]) out << ' ' << l.get<std::string>();
    out << '\n';
  }
  for (const char* which : {"obs", "var"}) {
    out << which << " columns" << (j[which].empty() ? "  (none)" : "") << '\n';
    for (const auto& c : j[which]) {
      std::snprintf(buf, sizeof buf, "  %-22s %-12s", c["name"].get<std::string>().c_str(),
                    c["kind"].get<std::string>().c_str());
      out << buf;
      if (c.contains("categories")) {
        out << c["categories"].size() << " categories:";
        std::size_t shown = 0;
        for (const auto& cat : c["categories"]) {
          if (shown++ == 8) {
            out << " ...";
            break;
          }
          out << ' ' << cat["name"].get<std::string>() << " (" << cat["count"] << ')';
        }
      } else if (c.contains("range")) {
        out << "range " << c["range"][0].get<double>() << " .. " << c["range"][1].get<double>();
      } else if (c.contains("true")) {
        out << c["true"] << " true";
      }
      out << '\n';
    }
  }
  if (!j["obsm"].empty()) {
    out << "obsm       ";
    for (const auto& [k, shape] : j["obsm"].items())
      out << ' ' << k << " (" << shape[0] << " x " << shape[1] << ")";
    out << '\n';
  }
  if (!j["uns"].empty()) {
    out << "uns        ";
    for (const auto& k : j["uns"]) out << ' ' << k.get<std::string>();
    out << '\n';
  }
}

}  // namespace

void add_info_command(CLI::App& app) {
  struct Args {
    std::string path;
    ReadOptions read;
    std::string format;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "info", "Describe a data file: shape, sparsity, value type, obs/var columns, layers");
  cmd->add_option("FILE", args->path, ".h5ad, 10x .h5, 10x matrix folder, .csv or .tsv")
      ->required();
  add_read_flags(cmd, args->read, args->format);
  cmd->add_flag("--json", args->json, "print the description as JSON");
  cmd->callback([args] {
    ReadOptions read = args->read;
    if (!args->format.empty()) read.format = parse_file_format(args->format);
    const FileFormat format = read.format ? *read.format : detect_input_format(args->path);
    read.format = format;
    const Dataset ds = read_dataset(args->path, read);
    const nlohmann::json j = describe(ds, format);
    if (args->json) {
      std::cout << j.dump(2) << '\n';
    } else {
      print_warnings(ds);
      print_table(j, std::cout);
    }
  });
}

}  // namespace cellvae::cli
