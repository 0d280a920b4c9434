#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cellvae/dataset.hpp"
#include "cellvae/error.hpp"
#include "cellvae/preprocess/hvg.hpp"
#include "cellvae/preprocess/preprocess.hpp"
#include "cellvae/preprocess/preprocess_state.hpp"
#include "cellvae/preprocess/split.hpp"
#include "cellvae/random.hpp"
#include "test_support.hpp"

namespace cellvae {
namespace {

using cellvae::testing::error_of;

// 120 cells x 40 genes of NB counts: two cell types differing in genes 0-5, three donors.
// Cell 0 is empty and gene 39 is never detected, so the default filters remove both.
Dataset simulated() {
  Rng rng(11);
  const int n = 120, g = 40;
  std::vector<float> dense(static_cast<std::size_t>(n * g), 0);
  std::vector<std::string> type_labels, donors, cells, genes;
  for (int j = 0; j < g; ++j) genes.push_back("gene" + std::to_string(j));
  for (int i = 0; i < n; ++i) {
    const bool b_cell = i % 3 == 0;
    type_labels.push_back(b_cell ? "B" : "T");
    donors.push_back("d" + std::to_string(i % 4 == 0 ? 1 : (i % 4 == 1 ? 2 : 3)));
    cells.push_back("cell" + std::to_string(i));
    if (i == 0) continue;
    for (int j = 0; j < g - 1; ++j) {
      double mu = 0.2 + 0.3 * j;
      if (j < 6 && b_cell) mu *= 8;
      dense[static_cast<std::size_t>(i * g + j)] =
          static_cast<float>(rng.negative_binomial(mu, 4.0));
    }
  }
  Dataset ds;
  ds.X = csr_from_dense(dense.data(), n, g);
  ds.obs.index = cells;
  ds.var.index = genes;
  // Stored category order T before B (not first appearance) must survive.
  std::vector<std::int32_t> codes;
  for (const auto& t : type_labels) codes.push_back(t == "T" ? 0 : 1);
  ds.obs.set(Column::make_categorical("cell_type", {"T", "B"}, codes));
  ds.obs.set(Column::make_string("donor", donors));
  return ds;
}

PreprocessOptions hvg_options() {
  PreprocessOptions o;
  o.n_top_genes = 10;
  o.batch_key = "donor";
  o.label_key = "cell_type";
  return o;
}

TEST(Preprocess, FiltersSelectsGenesAndEncodes) {
  Dataset ds = simulated();
  PreprocessResult r = preprocess(ds, hvg_options());
  EXPECT_EQ(r.filter.n_cells_removed, 1);
  EXPECT_EQ(r.filter.n_genes_removed, 1);
  ASSERT_TRUE(r.hvg);
  EXPECT_EQ(r.data.n_genes(), 10);
  EXPECT_EQ(r.data.n_cells() + static_cast<std::int64_t>(r.cells_empty_after_hvg.size()), 119);
  EXPECT_EQ(r.state.genes, r.data.var.index);
  EXPECT_EQ(r.state.genes_after_filter.size(), 39u);
  EXPECT_EQ(r.state.genes_after_filter.front(), "gene0");
  // The marker genes are the most variable.
  int markers = 0;
  for (const auto& g : r.state.genes)
    for (int j = 0; j < 6; ++j) markers += g == "gene" + std::to_string(j);
  EXPECT_GE(markers, 5);
  // The selection is highly_variable_genes on the filtered counts, per donor.
  Dataset filtered = subset(ds, r.filter.kept_cells, r.filter.kept_genes);
  HvgOptions h;
  h.n_top_genes = 10;
  h.batch_codes =
      CategoryEncoder::from_column(filtered.obs.at("donor")).encode(filtered.obs.at("donor"));
  EXPECT_EQ(highly_variable_genes(filtered.X, h).selected, r.hvg->selected);
  EXPECT_EQ(r.hvg->batches.size(), 3u);

  ASSERT_TRUE(r.state.labels);
  EXPECT_EQ(r.state.labels->key, "cell_type");
  EXPECT_EQ(r.state.labels->encoder.categories, (std::vector<std::string>{"T", "B"}));
  ASSERT_EQ(r.label_codes.size(), static_cast<std::size_t>(r.data.n_cells()));
  const Column& types = r.data.obs.at("cell_type");
  for (std::size_t i = 0; i < r.label_codes.size(); ++i)
    EXPECT_EQ(r.state.labels->encoder.name(r.label_codes[i]), types.text(i));
  ASSERT_TRUE(r.state.batches);
  EXPECT_EQ(r.state.batches->encoder.categories.size(), 3u);
  EXPECT_EQ(r.batch_codes.size(), r.label_codes.size());
}

TEST(Preprocess, WithoutHvgKeepsEveryFilteredGene) {
  PreprocessResult r = preprocess(simulated(), PreprocessOptions{});
  EXPECT_FALSE(r.hvg);
  EXPECT_EQ(r.data.n_genes(), 39);
  EXPECT_EQ(r.state.genes, r.state.genes_after_filter);
  EXPECT_FALSE(r.state.labels);
  EXPECT_TRUE(r.label_codes.empty());
}

TEST(Preprocess, MoreTopGenesThanGenesKeepsAllWithAWarning) {
  PreprocessOptions o;
  o.n_top_genes = 5000;
  PreprocessResult r = preprocess(simulated(), o);
  EXPECT_EQ(r.data.n_genes(), 39);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings[0].find("only 39 genes"), std::string::npos);
}

TEST(Preprocess, BadKeysAndOptionsAreErrors) {
  PreprocessOptions o;
  o.label_key = "nope";
  const std::string msg = error_of([&] { preprocess(simulated(), o); });
  EXPECT_NE(msg.find("nope"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cell_type"), std::string::npos) << msg;  // lists what is there
  o = {};
  o.n_top_genes = 0;
  EXPECT_THROW(preprocess(simulated(), o), InputError);
  // A missing label is an error naming the cell.
  Dataset ds = simulated();
  Column types = ds.obs.at("cell_type");
  types.codes[5] = -1;
  ds.obs.set(types);
  o = {};
  o.label_key = "cell_type";
  EXPECT_NE(error_of([&] { preprocess(ds, o); }).find("(cell 'cell5')"), std::string::npos);
}

PreprocessState fitted_state() {
  PreprocessResult r = preprocess(simulated(), hvg_options());
  SplitOptions so;
  so.strata = r.label_codes;
  SplitResult split = split_cells(r.data.n_cells(), so);
  r.state.input_transform = fit_input_transform(r.data.X, split.train);
  r.state.options.filter.max_counts_per_cell = 1e6;
  return r.state;
}

TEST(PreprocessState, JsonRoundTripIsExact) {
  PreprocessState s = fitted_state();
  nlohmann::json j = preprocess_state_to_json(s);
  EXPECT_EQ(j.at("version"), 1);
  PreprocessState back = preprocess_state_from_json(j);
  EXPECT_EQ(preprocess_state_to_json(back), j);
  EXPECT_EQ(back.genes, s.genes);
  EXPECT_EQ(back.genes_after_filter, s.genes_after_filter);
  EXPECT_EQ(back.labels->encoder.categories, s.labels->encoder.categories);
  EXPECT_EQ(back.batches->key, "donor");
  ASSERT_TRUE(back.input_transform);
  EXPECT_EQ(back.input_transform->reference_library, s.input_transform->reference_library);
  EXPECT_EQ(back.input_transform->min_max.min, s.input_transform->min_max.min);
  EXPECT_EQ(back.input_transform->min_max.max, s.input_transform->min_max.max);
  EXPECT_EQ(back.options.n_top_genes, 10);
  EXPECT_EQ(back.options.filter.max_counts_per_cell, 1e6);
  EXPECT_EQ(back.options.filter.min_counts_per_cell, 1);
  EXPECT_EQ(back.options.label_key, "cell_type");

  // Empty optionals survive as null.
  PreprocessState bare;
  bare.genes = bare.genes_after_filter = {"a", "b"};
  PreprocessState bare_back = preprocess_state_from_json(preprocess_state_to_json(bare));
  EXPECT_FALSE(bare_back.labels);
  EXPECT_FALSE(bare_back.input_transform);
  EXPECT_FALSE(bare_back.options.n_top_genes);
  EXPECT_FALSE(bare_back.options.filter.max_counts_per_cell);
}

TEST(PreprocessState, FileRoundTrip) {
  testing::ScratchDir dir;
  PreprocessState s = fitted_state();
  write_preprocess_state(s, dir / "state.json");
  PreprocessState back = read_preprocess_state(dir / "state.json");
  EXPECT_EQ(preprocess_state_to_json(back), preprocess_state_to_json(s));
  testing::write_text(dir / "bad.json", "{not json");
  EXPECT_NE(error_of([&] { read_preprocess_state(dir / "bad.json"); }).find("not valid JSON"),
            std::string::npos);
  EXPECT_THROW(read_preprocess_state(dir / "absent.json"), InputError);
}

TEST(PreprocessState, MissingOrMistypedKeysAreNamed) {
  const nlohmann::json good = preprocess_state_to_json(fitted_state());
  auto msg = [](nlohmann::json j) { return error_of([&] { preprocess_state_from_json(j); }); };
  nlohmann::json j = good;
  j.erase("genes");
  EXPECT_EQ(msg(j), "preprocessing state: missing key 'genes'");
  j = good;
  j["options"]["filter"].erase("min_cells_per_gene");
  EXPECT_EQ(msg(j), "preprocessing state: missing key 'options.filter.min_cells_per_gene'");
  j = good;
  j["input_transform"].erase("max");
  EXPECT_EQ(msg(j), "preprocessing state: missing key 'input_transform.max'");
  j = good;
  j["labels"].erase("categories");
  EXPECT_EQ(msg(j), "preprocessing state: missing key 'labels.categories'");
  j = good;
  j["genes"] = 5;
  EXPECT_EQ(msg(j), "preprocessing state: key 'genes' must be an array of strings");
  j = good;
  j["version"] = 2;
  EXPECT_NE(msg(j).find("version 2 is not supported"), std::string::npos);
  j = good;
  j["format"] = "something else";
  EXPECT_NE(msg(j).find("format"), std::string::npos);
  j = good;
  j["input_transform"]["min"].erase(0);
  EXPECT_NE(msg(j).find("input_transform"), std::string::npos);
  j = good;
  j["genes"].push_back("not-a-kept-gene");
  EXPECT_NE(msg(j).find("not-a-kept-gene"), std::string::npos);
}

TEST(ApplyState, SelectsGenesByNameInStateOrderAndEncodesLabels) {
  PreprocessResult r = preprocess(simulated(), hvg_options());
  const PreprocessState& s = r.state;
  // A new data set: the model's genes in reverse order plus others, labels stored as
  // categories in another order.
  Dataset fresh = simulated();
  std::vector<std::int64_t> rev(static_cast<std::size_t>(fresh.n_genes()));
  for (std::size_t i = 0; i < rev.size(); ++i)
    rev[i] = static_cast<std::int64_t>(rev.size() - 1 - i);
  fresh = subset(fresh, iota_indices(fresh.n_cells()), rev);
  const Column& t = fresh.obs.at("cell_type");
  std::vector<std::int32_t> flipped;
  for (auto c : t.codes) flipped.push_back(1 - c);
  fresh.obs.set(Column::make_categorical("cell_type", {"B", "T"}, flipped));

  ApplyStateResult a = apply_preprocess_state(s, fresh);
  EXPECT_EQ(a.data.var.index, s.genes);
  EXPECT_EQ(a.data.n_cells(), 120);
  // Same counts as the original columns of those genes.
  Dataset orig = simulated();
  std::vector<std::int64_t> cols;
  for (const auto& g : s.genes)
    cols.push_back(std::find(orig.var.index.begin(), orig.var.index.end(), g) -
                   orig.var.index.begin());
  EXPECT_EQ(to_dense(a.data.X), to_dense(select(orig.X, iota_indices(120), cols)));
  ASSERT_EQ(a.label_codes.size(), 120u);
  for (std::size_t i = 0; i < 120; ++i)
    EXPECT_EQ(s.labels->encoder.name(a.label_codes[i]), orig.obs.at("cell_type").text(i));
  EXPECT_EQ(a.batch_codes.size(), 120u);
}

TEST(ApplyState, MissingGenesAndColumnsAreErrors) {
  PreprocessState s = preprocess(simulated(), hvg_options()).state;
  Dataset fresh = simulated();
  fresh.var.index[static_cast<std::size_t>(
      std::find(fresh.var.index.begin(), fresh.var.index.end(), s.genes[1]) -
      fresh.var.index.begin())] = "renamed1";
  fresh.var.index[static_cast<std::size_t>(
      std::find(fresh.var.index.begin(), fresh.var.index.end(), s.genes[4]) -
      fresh.var.index.begin())] = "renamed4";
  EXPECT_EQ(
      error_of([&] { apply_preprocess_state(s, fresh); }),
      "2 of the model's 10 genes are missing from the data set: " + s.genes[1] + ", " + s.genes[4]);

  Dataset nolabels = simulated();
  nolabels.obs.columns.erase(nolabels.obs.columns.begin());  // drop cell_type
  ASSERT_EQ(nolabels.obs.find("cell_type"), nullptr);
  EXPECT_NE(error_of([&] { apply_preprocess_state(s, nolabels); }).find("cell_type"),
            std::string::npos);
  ApplyStateOptions lenient;
  lenient.require_labels = false;
  ApplyStateResult a = apply_preprocess_state(s, nolabels, lenient);
  EXPECT_TRUE(a.label_codes.empty());
  EXPECT_EQ(a.batch_codes.size(), 120u);

  Dataset unknown = simulated();
  unknown.obs.set(
      Column::make_categorical("cell_type", {"T", "B", "NK"}, std::vector<std::int32_t>(120, 2)));
  EXPECT_NE(error_of([&] { apply_preprocess_state(s, unknown); }).find("unknown label 'NK'"),
            std::string::npos);
}

}  // namespace
}  // namespace cellvae
