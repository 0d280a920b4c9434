// Helpers shared by the test programs: fixture paths, scratch folders, running the CLI.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>

#include "cellvae/error.hpp"

namespace cellvae::testing {

/// True when `part` occurs in `s` (checking messages and outputs).
inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// A path single-quoted for the command line of run_cellvae.
inline std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

/// Committed fixtures (tests/data).
inline std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(CELLVAE_TEST_DATA_DIR) / name;
}

/// A real data set from ../shared/data, or empty when it is not there (the test then skips).
inline std::filesystem::path shared_data(const std::string& relative) {
  std::filesystem::path p = std::filesystem::path(CELLVAE_SHARED_DATA_DIR) / relative;
  return std::filesystem::exists(p) ? p : std::filesystem::path();
}

#define CELLVAE_REQUIRE_SHARED(var, relative)                                   \
  const auto var = ::cellvae::testing::shared_data(relative);                   \
  if (var.empty()) GTEST_SKIP() << "shared data set " << relative << " not present"

/// A fresh scratch folder, removed when the object dies.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("cellvae-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// The message of the InputError that `f` throws; "" and a test failure when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError thrown";
  return "";
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs the cellvae program with `args` (already shell-quoted) and captures its output.
inline CommandResult run_cellvae(const std::string& args) {
  std::string cmd = std::string("\"") + CELLVAE_BINARY + "\" " + args + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace cellvae::testing
