// `cellvae evaluate` on the command line: outputs, exit codes and that options take effect.
// Skipped while the program does not register the subcommand.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analysis_test_util.hpp"
#include "cellvae/io.hpp"
#include "cellvae/simulate.hpp"

namespace cellvae::testing {
namespace {

bool evaluate_available() {
  static const bool available =
      run_cellvae("--help").output.find("\n  evaluate ") != std::string::npos;
  return available;
}

#define REQUIRE_EVALUATE() \
  if (!evaluate_available()) GTEST_SKIP() << "cellvae has no evaluate subcommand yet"

/// real.h5ad, generated.h5ad (disjoint halves of one simulation) and other_genes.h5ad (the
/// generated cells with their genes renamed) in a scratch folder.
class EvaluateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_EVALUATE();
    SimulateOptions s;
    s.n_cells = 400;
    s.n_genes = 120;
    s.seed = 3;
    const Dataset all = simulate_counts(s);
    std::vector<std::int64_t> even, odd;
    for (std::int64_t i = 0; i < all.n_cells(); ++i) (i % 2 ? odd : even).push_back(i);
    const auto genes = iota_indices(all.n_genes());
    write_dataset(subset(all, even, genes), dir_ / "real.h5ad");
    Dataset gen = subset(all, odd, genes);
    write_dataset(gen, dir_ / "generated.h5ad");
    for (auto& g : gen.var.index) g = "other_" + g;
    write_dataset(gen, dir_ / "other_genes.h5ad");
  }
  std::string path(const std::string& name) const { return "\"" + (dir_ / name).string() + "\""; }
  std::string pair() const { return path("real.h5ad") + " " + path("generated.h5ad"); }

  ScratchDir dir_;
};

TEST_F(EvaluateCli, WritesJsonAndPrintsTable) {
  const auto r = run_cellvae("evaluate " + pair() +
                             " --label-key group --trees 20 --threads 1 -o " + path("m.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("random-forest AUC"), std::string::npos) << r.output;
  const auto j = nlohmann::json::parse(read_text(dir_ / "m.json"));
  EXPECT_EQ(j["n_shared_genes"], 120);
  EXPECT_TRUE(j["generated"]["joint"].contains("knn_auc"));
  EXPECT_TRUE(j["generated"].contains("label_transfer"));
  EXPECT_EQ(j["options"]["n_trees"], 20);

  const auto js = run_cellvae("evaluate " + pair() + " --json --classifiers knn");
  ASSERT_EQ(js.exit_code, 0) << js.output;
  const auto k = nlohmann::json::parse(js.output);
  EXPECT_FALSE(k["generated"]["joint"].contains("random_forest_auc"));
}

TEST_F(EvaluateCli, OptionsTakeEffect) {
  auto scores = [&](const std::string& extra) {
    const auto r = run_cellvae("evaluate " + pair() + " --json --classifiers knn " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return nlohmann::json::parse(r.output)["generated"];
  };
  const auto base = scores("");
  EXPECT_EQ(base, scores(""));  // same seed, same scores
  EXPECT_NE(base["joint"]["knn_auc"], scores("--seed 5")["joint"]["knn_auc"]);
  EXPECT_NE(base["joint"]["knn_auc"], scores("--neighbors 3")["joint"]["knn_auc"]);
  EXPECT_NE(base["joint"]["mmd_rbf"], scores("--n-pcs 5")["joint"]["mmd_rbf"]);
  EXPECT_EQ(scores("--max-cells 50")["n_real"], 50);
}

TEST_F(EvaluateCli, ErrorsExitTwoWithAMessage) {
  auto expect_error = [](const CommandResult& r, const std::string& text) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(text), std::string::npos) << r.output;
  };
  expect_error(run_cellvae("evaluate " + path("real.h5ad") + " " + path("other_genes.h5ad")),
               "only 0 genes are shared");
  expect_error(run_cellvae("evaluate " + path("real.h5ad") + " " + path("missing.h5ad")),
               "missing.h5ad");
  expect_error(run_cellvae("evaluate " + pair() + " --classifiers svm"), "--classifiers");
  expect_error(run_cellvae("evaluate " + pair() + " --pca full"), "--pca");
  expect_error(run_cellvae("evaluate " + pair() + " --max-cells 3"), "--max-cells");
  expect_error(run_cellvae("evaluate " + pair() + " --label-key nope"), "nope");
  expect_error(run_cellvae("evaluate " + path("real.h5ad")), "GENERATED");
}

}  // namespace
}  // namespace cellvae::testing
