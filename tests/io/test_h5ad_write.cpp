// Writing .h5ad files: write -> read round trips keep X, obs/var (every column kind), obsm and
// uns exactly, with and without compression; invalid data sets and paths are refused.
// (tests/interop/test_h5ad_interop.py checks that anndata itself reads what we write.)
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "cellvae/error.hpp"
#include "cellvae/h5ad.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using cellvae::Column;
using cellvae::ColumnKind;
using cellvae::CsrMatrix;
using cellvae::DataFrame;
using cellvae::Dataset;
using cellvae::InputError;
using cellvae::read_h5ad;
using cellvae::write_h5ad;
using cellvae::testing::error_of;
using cellvae::testing::fixture;
using cellvae::testing::ScratchDir;

void expect_same_column(const Column& a, const Column& b) {
  SCOPED_TRACE(a.name);
  EXPECT_EQ(a.name, b.name);
  ASSERT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.categories, b.categories);
  EXPECT_EQ(a.ordered, b.ordered);
  EXPECT_EQ(a.codes, b.codes);
  EXPECT_EQ(a.strings, b.strings);
  ASSERT_EQ(a.numbers.size(), b.numbers.size());
  for (std::size_t i = 0; i < a.numbers.size(); ++i) {
    if (std::isnan(a.numbers[i]))
      EXPECT_TRUE(std::isnan(b.numbers[i]));
    else
      EXPECT_EQ(a.numbers[i], b.numbers[i]);
  }
  EXPECT_EQ(a.integers, b.integers);
  EXPECT_EQ(a.booleans, b.booleans);
}

void expect_same_frame(const DataFrame& a, const DataFrame& b) {
  EXPECT_EQ(a.index, b.index);
  ASSERT_EQ(a.column_names(), b.column_names());
  for (std::size_t i = 0; i < a.columns.size(); ++i) expect_same_column(a.columns[i], b.columns[i]);
}

void expect_same_dataset(const Dataset& a, const Dataset& b) {
  EXPECT_EQ(a.X.n_rows, b.X.n_rows);
  EXPECT_EQ(a.X.n_cols, b.X.n_cols);
  EXPECT_EQ(a.X.indptr, b.X.indptr);
  EXPECT_EQ(a.X.indices, b.X.indices);
  EXPECT_EQ(a.X.data, b.X.data);
  expect_same_frame(a.obs, b.obs);
  expect_same_frame(a.var, b.var);
  ASSERT_EQ(a.obsm.size(), b.obsm.size());
  for (const auto& [key, arr] : a.obsm) {
    ASSERT_EQ(b.obsm.count(key), 1u) << key;
    EXPECT_EQ(arr.rows, b.obsm.at(key).rows);
    EXPECT_EQ(arr.cols, b.obsm.at(key).cols);
    EXPECT_EQ(arr.values, b.obsm.at(key).values);
  }
  EXPECT_EQ(a.uns, b.uns);
}

/// A data set with every column kind and uns type, unicode names, missing values, and a
/// matrix big enough for the writer to chunk and compress it.
Dataset synthetic(std::int64_t n_cells, std::int64_t n_genes) {
  Dataset ds;
  CsrMatrix& m = ds.X;
  m.n_rows = n_cells;
  m.n_cols = n_genes;
  for (std::int64_t r = 0; r < n_cells; ++r) {
    for (std::int64_t c = r % 3; c < n_genes; c += 1 + (r + c) % 7) {
      m.indices.push_back(static_cast<std::int32_t>(c));
      m.data.push_back(static_cast<float>((r * 31 + c * 17) % 50) + 0.5f);
    }
    m.indptr.push_back(m.nnz());
  }
  std::vector<std::string> labels;
  std::vector<double> numbers;
  std::vector<std::int64_t> integers;
  std::vector<std::uint8_t> flags;
  std::vector<std::int32_t> codes;
  for (std::int64_t r = 0; r < n_cells; ++r) {
    ds.obs.index.push_back("cell-" + std::to_string(r) + (r == 0 ? "-naïve-細胞" : ""));
    labels.push_back("type " + std::to_string(r % 4));
    numbers.push_back(r == 1 ? std::nan("") : r * 0.125 - 3);
    integers.push_back(r * 1000003 - 7);
    flags.push_back(r % 3 == 0);
    codes.push_back(r % 5 == 4 ? -1 : static_cast<std::int32_t>(r % 3));
  }
  ds.obs.set(Column::categorical_from_labels("cell_type", labels));
  ds.obs.set(Column::make_categorical("stage", {"early", "mid", "late"}, codes, true));
  ds.obs.set(Column::make_number("score", numbers));
  ds.obs.set(Column::make_integer("count", integers));
  ds.obs.set(Column::make_boolean("flag", flags));
  ds.obs.set(Column::make_string("note", labels));
  for (std::int64_t c = 0; c < n_genes; ++c) ds.var.index.push_back("gene" + std::to_string(c));
  cellvae::DenseArray emb;
  emb.rows = n_cells;
  emb.cols = 3;
  for (std::int64_t i = 0; i < n_cells * 3; ++i) emb.values.push_back(i * 0.001 - 1);
  ds.obsm["X_cellvae"] = emb;
  ds.uns["model"] = std::string("nb");
  ds.uns["elbo"] = -1234.5;
  ds.uns["epochs"] = std::int64_t{40};
  ds.uns["converged"] = false;
  ds.uns["history"] = std::vector<double>{3.5, 2.25, 1.0};
  ds.uns["seeds"] = std::vector<std::int64_t>{1, -2, 3};
  ds.uns["batches"] = std::vector<std::string>{"b1", "b2"};
  ds.uns["empty"] = std::vector<std::string>{};
  return ds;
}

TEST(H5adWrite, FixtureRoundTrip) {
  ScratchDir dir;
  for (const char* name : {"h5ad/x_csr.h5ad", "h5ad/legacy_06.h5ad", "h5ad/extras.h5ad"}) {
    SCOPED_TRACE(name);
    const Dataset in = read_h5ad(fixture(name));
    const fs::path out = dir / "out.h5ad";
    write_h5ad(in, out);
    const Dataset back = read_h5ad(out);
    expect_same_dataset(in, back);
    EXPECT_TRUE(back.warnings.empty()) << back.warnings.front();
    EXPECT_TRUE(back.layers.empty());
  }
}

TEST(H5adWrite, SyntheticRoundTripWithAndWithoutCompression) {
  ScratchDir dir;
  const Dataset in = synthetic(3000, 400);
  for (int level : {0, 1, 6}) {
    SCOPED_TRACE(level);
    cellvae::H5adWriteOptions opt;
    opt.compression = level;
    const fs::path out = dir / ("level" + std::to_string(level) + ".h5ad");
    write_h5ad(in, out, opt);
    expect_same_dataset(in, read_h5ad(out));
  }
  // Compression does something.
  EXPECT_LT(fs::file_size(dir / "level6.h5ad"), fs::file_size(dir / "level0.h5ad"));
}

TEST(H5adWrite, ParallelAndSerialChunkCompressionAgree) {
  // ~710k nonzeros: X/data and X/indices span three 1 MiB gzip chunks, the last one partial.
  // Written and read serially (HDF5's filter) and in parallel (our chunks), in every pairing.
  ScratchDir dir;
  const Dataset in = synthetic(6000, 400);
  ASSERT_GT(in.X.nnz(), 2 * 262144);
  for (int write_threads : {1, 3}) {
    cellvae::H5adWriteOptions wopt;
    wopt.compression = 1;
    wopt.threads = write_threads;
    const fs::path out = dir / ("big" + std::to_string(write_threads) + ".h5ad");
    write_h5ad(in, out, wopt);
    for (int read_threads : {1, 3, 0}) {
      SCOPED_TRACE(std::to_string(write_threads) + " / " + std::to_string(read_threads));
      cellvae::H5adReadOptions ropt;
      ropt.threads = read_threads;
      expect_same_dataset(in, read_h5ad(out, ropt));
    }
  }
}

TEST(H5adWrite, EmptyMatrixAndNoColumns) {
  ScratchDir dir;
  Dataset in;
  in.X.n_rows = 2;
  in.X.n_cols = 3;
  in.X.indptr = {0, 0, 0};
  in.obs.index = {"a", "b"};
  in.var.index = {"x", "y", "z"};
  write_h5ad(in, dir / "empty.h5ad");
  expect_same_dataset(in, read_h5ad(dir / "empty.h5ad"));
}

TEST(H5adWrite, ManyCategoriesUseWiderCodes) {
  ScratchDir dir;
  Dataset in = synthetic(40000, 5);
  std::vector<std::string> labels;
  for (int i = 0; i < 40000; ++i) labels.push_back("c" + std::to_string(i % 35000));
  in.obs.set(Column::categorical_from_labels("many", labels));
  write_h5ad(in, dir / "many.h5ad");
  expect_same_dataset(in, read_h5ad(dir / "many.h5ad"));
}

TEST(H5adWriteErrors, RefusesAnInconsistentDataset) {
  ScratchDir dir;
  Dataset in = synthetic(10, 4);
  in.obs.index.pop_back();
  EXPECT_THROW(write_h5ad(in, dir / "bad.h5ad"), InputError);
  EXPECT_FALSE(fs::exists(dir / "bad.h5ad"));
}

TEST(H5adWriteErrors, RefusesKeysHdf5CannotHold) {
  ScratchDir dir;
  Dataset in = synthetic(10, 4);
  in.obs.set(Column::make_number("a/b", std::vector<double>(10, 1.0)));
  const std::string msg = error_of([&] { write_h5ad(in, dir / "slash.h5ad"); });
  EXPECT_NE(msg.find("'a/b'"), std::string::npos) << msg;
  Dataset in2 = synthetic(10, 4);
  in2.uns["x/y"] = 1.0;
  EXPECT_THROW(write_h5ad(in2, dir / "slash2.h5ad"), InputError);
}

TEST(H5adWriteErrors, UnwritablePath) {
  const Dataset in = synthetic(4, 4);
  EXPECT_EQ(error_of([&] { write_h5ad(in, "/nonexistent-dir/out.h5ad"); }),
            "cannot create /nonexistent-dir/out.h5ad");
}

}  // namespace
