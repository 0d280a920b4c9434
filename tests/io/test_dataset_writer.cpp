// DatasetWriter: appending cells in uneven blocks gives the same data set as writing it whole,
// in every writable format; existing outputs are refused without force and survive a failed or
// abandoned writer; shape errors name the gene counts; memory held stays bounded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "cellvae/dataset_writer.hpp"
#include "cellvae/error.hpp"
#include "cellvae/io.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using cellvae::Column;
using cellvae::CsrMatrix;
using cellvae::DataFrame;
using cellvae::Dataset;
using cellvae::DatasetWriter;
using cellvae::DatasetWriterOptions;
using cellvae::FileFormat;
using cellvae::InputError;
using cellvae::testing::error_of;
using cellvae::testing::read_text;
using cellvae::testing::ScratchDir;
using cellvae::testing::write_text;

/// Every column kind and uns type, fractional values (a "real" Matrix Market file), and gene
/// ids / feature types that a 10x folder keeps.
Dataset synthetic(std::int64_t n_cells, std::int64_t n_genes) {
  Dataset ds;
  CsrMatrix& m = ds.X;
  m.n_rows = n_cells;
  m.n_cols = n_genes;
  for (std::int64_t r = 0; r < n_cells; ++r) {
    if (r % 11 != 5) {  // some cells without any counts
      for (std::int64_t c = r % 3; c < n_genes; c += 1 + (r + c) % 7) {
        m.indices.push_back(static_cast<std::int32_t>(c));
        m.data.push_back(static_cast<float>((r * 31 + c * 17) % 50) + 0.5f);
      }
    }
    m.indptr.push_back(m.nnz());
  }
  std::vector<std::string> labels;
  std::vector<double> numbers;
  std::vector<std::int64_t> integers;
  std::vector<std::uint8_t> flags;
  for (std::int64_t r = 0; r < n_cells; ++r) {
    ds.obs.index.push_back("cell-" + std::to_string(r) + (r == 0 ? "-naïve" : ""));
    labels.push_back("type " + std::to_string(r % 4));
    numbers.push_back(r == 1 ? std::nan("") : r * 0.125 - 3);
    integers.push_back(r * 1000003 - 7);
    flags.push_back(r % 3 == 0);
  }
  ds.obs.set(Column::categorical_from_labels("cell_type", labels));
  ds.obs.set(Column::make_number("score", numbers));
  ds.obs.set(Column::make_integer("count", integers));
  ds.obs.set(Column::make_boolean("flag", flags));
  ds.obs.set(Column::make_string("note", labels));
  std::vector<std::string> ids;
  for (std::int64_t c = 0; c < n_genes; ++c) {
    ds.var.index.push_back("gene" + std::to_string(c));
    ids.push_back("ENSG" + std::to_string(1000 + c));
  }
  ds.var.set(Column::make_string("gene_ids", ids));
  ds.var.set(Column::categorical_from_labels(
      "feature_types",
      std::vector<std::string>(static_cast<std::size_t>(n_genes), "Gene Expression")));
  cellvae::DenseArray emb;
  emb.rows = n_cells;
  emb.cols = 2;
  for (std::int64_t i = 0; i < n_cells * 2; ++i) emb.values.push_back(i * 0.001 - 1);
  ds.obsm["X_cellvae"] = emb;
  ds.uns["model"] = std::string("nb");
  ds.uns["elbo"] = -1234.5;
  ds.uns["epochs"] = std::int64_t{40};
  ds.uns["seeds"] = std::vector<std::int64_t>{1, -2, 3};
  return ds;
}

/// Rows [begin, end) of the data set's X and their names.
struct Block {
  CsrMatrix counts;
  std::vector<std::string> names;
};
Block block(const Dataset& ds, std::int64_t begin, std::int64_t end) {
  std::vector<std::int64_t> rows;
  for (std::int64_t r = begin; r < end; ++r) rows.push_back(r);
  Block b{cellvae::select_rows(ds.X, rows), {}};
  b.counts.n_cols = ds.X.n_cols;
  b.names.assign(ds.obs.index.begin() + begin, ds.obs.index.begin() + end);
  return b;
}

/// Writes `ds` through a DatasetWriter in uneven blocks, one of them empty.
void write_in_blocks(const Dataset& ds, const fs::path& path, DatasetWriterOptions options = {}) {
  DatasetWriter writer(path, ds.var, options);
  const std::int64_t n = ds.n_cells();
  const std::vector<std::int64_t> cuts{0, 7, 7, n / 3, n / 3 + 1, n - 2, n};
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    const Block b = block(ds, cuts[i], cuts[i + 1]);
    writer.append(b.counts, b.names);
  }
  EXPECT_EQ(writer.n_cells(), n);
  // obs without its index: the appended names are used.
  DataFrame obs;
  obs.columns = ds.obs.columns;
  writer.finish(obs, ds.obsm, ds.uns);
}

void expect_same_frame(const DataFrame& a, const DataFrame& b) {
  EXPECT_EQ(a.index, b.index);
  ASSERT_EQ(a.column_names(), b.column_names());
  for (std::size_t i = 0; i < a.columns.size(); ++i) {
    const Column& x = a.columns[i];
    const Column& y = b.columns[i];
    SCOPED_TRACE(x.name);
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.categories, y.categories);
    EXPECT_EQ(x.codes, y.codes);
    EXPECT_EQ(x.strings, y.strings);
    ASSERT_EQ(x.numbers.size(), y.numbers.size());
    for (std::size_t k = 0; k < x.numbers.size(); ++k) {
      if (!(std::isnan(x.numbers[k]) && std::isnan(y.numbers[k]))) {
        EXPECT_EQ(x.numbers[k], y.numbers[k]);
      }
    }
    EXPECT_EQ(x.integers, y.integers);
    EXPECT_EQ(x.booleans, y.booleans);
  }
}

void expect_same_read(const Dataset& a, const Dataset& b) {
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
    EXPECT_EQ(arr.values, b.obsm.at(key).values);
  }
  EXPECT_EQ(a.uns, b.uns);
}

/// Every file under `p` (or `p` itself) with its bytes, to see that an output did not change.
std::map<std::string, std::string> snapshot(const fs::path& p) {
  std::map<std::string, std::string> files;
  if (fs::is_directory(p)) {
    for (const auto& e : fs::recursive_directory_iterator(p))
      if (e.is_regular_file()) files[e.path().string()] = read_text(e.path());
  } else if (fs::exists(p)) {
    files[p.string()] = read_text(p);
  }
  return files;
}

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

struct FormatCase {
  const char* name;  // output name in the scratch folder; decides the format
  std::int64_t cells;
  std::int64_t genes;
};

class DatasetWriterFormats : public ::testing::TestWithParam<FormatCase> {};

TEST_P(DatasetWriterFormats, BlocksReadBackLikeAWholeWrite) {
  const FormatCase& c = GetParam();
  ScratchDir dir;
  const Dataset ds = synthetic(c.cells, c.genes);
  const fs::path whole = dir / (std::string("whole-") + c.name);
  const fs::path streamed = dir / (std::string("streamed-") + c.name);
  cellvae::write_dataset(ds, whole);
  write_in_blocks(ds, streamed);
  const Dataset a = cellvae::read_dataset(whole);
  const Dataset b = cellvae::read_dataset(streamed);
  expect_same_read(a, b);
  // And both hold the data set itself (names, matrix; obs columns where the format has them).
  EXPECT_EQ(b.X.indptr, ds.X.indptr);
  EXPECT_EQ(b.X.indices, ds.X.indices);
  EXPECT_EQ(b.X.data, ds.X.data);
  EXPECT_EQ(b.obs.index, ds.obs.index);
  EXPECT_EQ(b.var.index, ds.var.index);
  if (cellvae::detect_output_format(streamed) == FileFormat::h5ad) {
    expect_same_frame(b.obs, ds.obs);
    EXPECT_EQ(b.uns, ds.uns);
    EXPECT_EQ(b.obsm.at("X_cellvae").values, ds.obsm.at("X_cellvae").values);
  }
  // Nothing else was left in the folder (no temporaries, no .part files).
  EXPECT_EQ(listing(dir.path()).size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, DatasetWriterFormats,
    ::testing::Values(FormatCase{"small.h5ad", 40, 9},
                      // ~710k nonzeros: X/data spans three HDF5 chunks, block edges inside them.
                      FormatCase{"big.h5ad", 6000, 400}, FormatCase{"tenx", 1500, 120},
                      FormatCase{"table.csv", 300, 50}, FormatCase{"table.tsv.gz", 300, 50}),
    [](const auto& info) {
      std::string n = info.param.name;
      std::replace(n.begin(), n.end(), '.', '_');
      return n;
    });

TEST(DatasetWriter, H5adCompressionAndThreadSettingsReadBackEqual) {
  ScratchDir dir;
  const Dataset ds = synthetic(6000, 400);
  for (int level : {0, 1}) {
    for (int threads : {1, 3}) {
      SCOPED_TRACE(std::to_string(level) + " / " + std::to_string(threads));
      const fs::path out = dir / ("x" + std::to_string(level) + std::to_string(threads) + ".h5ad");
      DatasetWriterOptions options;
      options.compression = level;
      options.threads = threads;
      write_in_blocks(ds, out, options);
      const Dataset back = cellvae::read_dataset(out);
      EXPECT_EQ(back.X.indptr, ds.X.indptr);
      EXPECT_EQ(back.X.indices, ds.X.indices);
      EXPECT_EQ(back.X.data, ds.X.data);
    }
  }
  EXPECT_LT(fs::file_size(dir / "x11.h5ad"), fs::file_size(dir / "x01.h5ad"));
}

TEST(DatasetWriter, NoCellsAtAll) {
  ScratchDir dir;
  const Dataset ds = synthetic(0, 5);
  for (const char* name : {"empty.h5ad", "empty", "empty.csv"}) {
    SCOPED_TRACE(name);
    DatasetWriter writer(dir / name, ds.var);
    writer.finish();
    const Dataset back = cellvae::read_dataset(dir / name);
    EXPECT_EQ(back.n_cells(), 0);
    EXPECT_EQ(back.var.index, ds.var.index);
  }
}

TEST(DatasetWriter, ObsIndexMustMatchTheAppendedNames) {
  ScratchDir dir;
  const Dataset ds = synthetic(10, 4);
  DatasetWriter writer(dir / "o.h5ad", ds.var);
  writer.append(ds.X, ds.obs.index);
  DataFrame obs = ds.obs;
  obs.index[3] = "other";
  std::string msg = error_of([&] { writer.finish(obs); });
  EXPECT_NE(msg.find("name 4 is 'other', but the cell appended there is 'cell-3'"),
            std::string::npos)
      << msg;
  obs = ds.obs;
  obs.columns[0].codes.pop_back();
  msg = error_of([&] { writer.finish(obs); });
  EXPECT_NE(msg.find("obs column 'cell_type' has 9 values for 10 cells"), std::string::npos) << msg;
  // Those checks come before anything is written: the writer still finishes.
  writer.finish(ds.obs, ds.obsm, ds.uns);
  expect_same_frame(cellvae::read_dataset(dir / "o.h5ad").obs, ds.obs);
}

TEST(DatasetWriterErrors, ShapeMismatchesNameTheCounts) {
  ScratchDir dir;
  const Dataset ds = synthetic(10, 4);
  for (const char* name : {"s.h5ad", "s", "s.csv"}) {
    SCOPED_TRACE(name);
    DatasetWriter writer(dir / name, ds.var);
    const Dataset wide = synthetic(3, 5);
    std::string msg = error_of([&] { writer.append(wide.X, wide.obs.index); });
    EXPECT_NE(msg.find("counts have 5 genes (columns), but the output's var has 4"),
              std::string::npos)
        << msg;
    msg = error_of([&] { writer.append(ds.X, {"a", "b"}); });
    EXPECT_NE(msg.find("2 cell names for 10 rows"), std::string::npos) << msg;
    CsrMatrix broken = ds.X;
    broken.indices[0] = 7;
    EXPECT_THROW(writer.append(broken, ds.obs.index), InputError);
    // Refused blocks leave nothing behind: the writer goes on.
    writer.append(ds.X, ds.obs.index);
    writer.finish();
    EXPECT_EQ(cellvae::read_dataset(dir / name).X.data, ds.X.data);
  }
}

TEST(DatasetWriterErrors, UnsupportedOrUnwritableOutputs) {
  ScratchDir dir;
  const Dataset ds = synthetic(3, 4);
  DatasetWriterOptions tenx_h5;
  tenx_h5.format = FileFormat::tenx_h5;
  EXPECT_NE(error_of([&] { DatasetWriter(dir / "x.h5", ds.var, tenx_h5); }).find("not supported"),
            std::string::npos);
  EXPECT_NE(error_of([&] { DatasetWriter(dir / "x.loom", ds.var); }).find("cannot tell"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { DatasetWriter(dir / "missing" / "x.h5ad", ds.var); }).find("does not exist"),
      std::string::npos);
  EXPECT_TRUE(listing(dir.path()).empty());
}

class DatasetWriterExisting : public ::testing::TestWithParam<const char*> {};

TEST_P(DatasetWriterExisting, RefusedWithoutForceAndLeftIntact) {
  ScratchDir dir;
  const fs::path out = dir / GetParam();
  const Dataset old_ds = synthetic(20, 6);
  const Dataset new_ds = synthetic(30, 6);
  cellvae::write_dataset(old_ds, out);
  const auto before = snapshot(out);
  ASSERT_FALSE(before.empty());
  const auto names_before = listing(dir.path());

  // At construction: refused at once, before any work.
  std::string msg = error_of([&] { DatasetWriter(out, new_ds.var); });
  EXPECT_NE(msg.find("exists; use --force to replace it"), std::string::npos) << msg;

  // At finish: the output appeared while the writer was working.
  const fs::path later = dir / (std::string("later-") + GetParam());
  {
    DatasetWriter writer(later, new_ds.var);
    writer.append(new_ds.X, new_ds.obs.index);
    fs::rename(out, later);  // "someone else" writes the output meanwhile
    msg = error_of([&] { writer.finish(new_ds.obs); });
    EXPECT_NE(msg.find("exists; use --force"), std::string::npos) << msg;
    fs::rename(later, out);
  }
  EXPECT_EQ(snapshot(out), before);
  EXPECT_EQ(listing(dir.path()), names_before);  // the temporary output is gone

  // Abandoned (an exception unwinding past it) with force: the old output stays as it was.
  try {
    DatasetWriterOptions options;
    options.force = true;
    DatasetWriter writer(out, new_ds.var, options);
    writer.append(new_ds.X, new_ds.obs.index);
    EXPECT_GT(listing(dir.path()).size(), names_before.size());  // the temporary is there
    throw std::runtime_error("generation failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(snapshot(out), before);
  EXPECT_EQ(listing(dir.path()), names_before);

  // With force and finish, the output is replaced.
  DatasetWriterOptions options;
  options.force = true;
  DatasetWriter writer(out, new_ds.var, options);
  writer.append(new_ds.X, new_ds.obs.index);
  writer.finish(new_ds.obs);
  EXPECT_EQ(cellvae::read_dataset(out).obs.index, new_ds.obs.index);
  EXPECT_EQ(listing(dir.path()), names_before);
}

INSTANTIATE_TEST_SUITE_P(Formats, DatasetWriterExisting,
                         ::testing::Values("old.h5ad", "old_folder", "old.csv", "old.tsv.gz"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '.', '_');
                           return n;
                         });

TEST(DatasetWriterErrors, FailureInsideAppendSpendsTheWriterAndCleansUp) {
  ScratchDir dir;
  Dataset ds = synthetic(10, 4);
  ds.X.data[3] = std::nanf("");  // a Matrix Market file cannot hold NaN
  {
    DatasetWriter writer(dir / "tenx", ds.var);
    const std::string msg = error_of([&] { writer.append(ds.X, ds.obs.index); });
    EXPECT_NE(msg.find("is NaN"), std::string::npos) << msg;
    EXPECT_NE(error_of([&] { writer.finish(); }).find("finished or failed earlier"),
              std::string::npos);
  }
  EXPECT_TRUE(listing(dir.path()).empty());
}

// ---- memory -----------------------------------------------------------------------------------

/// A block of `n` cells x `genes` with about a quarter of the entries set, made on the fly.
Block random_block(std::int64_t first, std::int64_t n, std::int64_t genes) {
  Block b;
  b.counts.n_rows = n;
  b.counts.n_cols = genes;
  std::uint32_t state = static_cast<std::uint32_t>(first * 2654435761u + 1);
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t g = 0; g < genes; ++g) {
      state = state * 1664525u + 1013904223u;
      if ((state >> 24) < 64) {
        b.counts.indices.push_back(static_cast<std::int32_t>(g));
        b.counts.data.push_back(static_cast<float>(1 + (state >> 8) % 20));
      }
    }
    b.counts.indptr.push_back(b.counts.nnz());
    b.names.push_back("c" + std::to_string(first + r));  // short: no heap beyond the vector
  }
  return b;
}

std::size_t heap_in_use() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
#else
  return 0;
#endif
}

TEST(DatasetWriterMemory, BuffersStayBoundedWhileAppending) {
  // 200,000 cells x 200 genes (~10 million nonzeros, 80 MB of CSR) in blocks of 10,000.
  constexpr std::int64_t kCells = 200000, kGenes = 200, kBlock = 10000;
  constexpr std::size_t kBufferLimit = std::size_t{4} << 20;
  ScratchDir dir;
  DataFrame var;
  for (std::int64_t g = 0; g < kGenes; ++g) var.index.push_back("g" + std::to_string(g));
  DatasetWriterOptions options;
  options.compression = 1;
  DatasetWriter writer(dir / "big.h5ad", var, options);
  std::size_t baseline = 0, peak_growth = 0, written_bytes = 0, max_buffered = 0;
  for (std::int64_t first = 0; first < kCells; first += kBlock) {
    {
      const Block b = random_block(first, kBlock, kGenes);
      written_bytes += b.counts.data.size() * 8;
      writer.append(b.counts, b.names);
    }
    max_buffered = std::max(max_buffered, writer.buffered_bytes());
    if (first == kBlock) baseline = heap_in_use();  // after two blocks: HDF5 set up
    if (first > kBlock && heap_in_use() > baseline)
      peak_growth = std::max(peak_growth, heap_in_use() - baseline);
  }
  EXPECT_LE(max_buffered, kBufferLimit);
  std::printf("buffered at most %zu bytes; heap grew by at most %zu bytes over %zu CSR bytes\n",
              max_buffered, peak_growth, written_bytes);
  // Heap in use after each block (glibc's count, independent of what malloc returns to the
  // system) grows by the cell names only (~6-8 MB for 200,000 vector entries), never with
  // the 80 MB of counts appended.
  if (heap_in_use() != 0) {
    EXPECT_LT(peak_growth, std::size_t{24} << 20) << "CSR bytes appended: " << written_bytes;
  }
  writer.finish();
  EXPECT_EQ(writer.buffered_bytes(), 0u);
  const Dataset back = cellvae::read_dataset(dir / "big.h5ad");
  EXPECT_EQ(back.n_cells(), kCells);
  EXPECT_EQ(back.obs.index.back(), "c199999");
  EXPECT_EQ(back.X.nnz() * 8, static_cast<std::int64_t>(written_bytes));
}

TEST(DatasetWriterMemory, TextFormatsHoldOneBuffer) {
  constexpr std::int64_t kGenes = 100, kBlock = 5000;
  ScratchDir dir;
  DataFrame var;
  for (std::int64_t g = 0; g < kGenes; ++g) var.index.push_back("g" + std::to_string(g));
  for (const char* name : {"folder", "table.csv.gz"}) {
    SCOPED_TRACE(name);
    DatasetWriter writer(dir / name, var);
    std::size_t max_buffered = 0;
    for (std::int64_t first = 0; first < 40000; first += kBlock) {
      const Block b = random_block(first, kBlock, kGenes);
      writer.append(b.counts, b.names);
      max_buffered = std::max(max_buffered, writer.buffered_bytes());
    }
    // One or two text buffers of ~1.25 MiB, while ~25 MB of text went through them.
    EXPECT_LE(max_buffered, std::size_t{3} << 20);
    writer.finish();
    EXPECT_EQ(cellvae::read_dataset(dir / name).n_cells(), 40000);
  }
}

}  // namespace
