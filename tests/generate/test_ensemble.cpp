// Ensembles: how the cells, label counts and seeds are shared out between models, and which
// models are refused together (naming the path and what differs).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "cellvae/error.hpp"
#include "cellvae/generate/ensemble.hpp"
#include "test_support.hpp"

namespace cg = cellvae::generate;
namespace cp = cellvae::pipeline;
using cellvae::testing::contains;

namespace {

std::map<std::string, std::int64_t> counts_of(const cg::GenerateOptions& o) {
  return {o.label_counts.begin(), o.label_counts.end()};
}

cp::TrainedModel model_with(std::vector<std::string> genes, std::vector<std::string> labels) {
  cp::TrainedModel m;
  m.preprocess.genes = std::move(genes);
  m.preprocess.labels = cellvae::EncodedColumn{"cell_type", {std::move(labels)}};
  return m;
}

}  // namespace

TEST(EnsembleShares, CellsSplitEvenlyAndSeedsCountUp) {
  cg::GenerateOptions o;
  o.n_cells = 10;
  o.seed = 7;
  o.max_components = 4;
  const auto shares = cg::ensemble_member_options(o, 3);
  ASSERT_EQ(shares.size(), 3u);
  EXPECT_EQ(shares[0].n_cells, 4);
  EXPECT_EQ(shares[1].n_cells, 3);
  EXPECT_EQ(shares[2].n_cells, 3);
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(shares[k].seed, 7u + k);
    EXPECT_EQ(shares[k].max_components, 4);  // the rest is copied
  }
  // One member: the options themselves.
  const auto one = cg::ensemble_member_options(o, 1);
  EXPECT_EQ(one[0].n_cells, 10);
  EXPECT_EQ(one[0].seed, 7u);
  // Fewer cells than members: the last get none.
  o.n_cells = 2;
  const auto few = cg::ensemble_member_options(o, 3);
  EXPECT_EQ(few[0].n_cells + few[1].n_cells, 2);
  EXPECT_EQ(few[2].n_cells, 0);
}

TEST(EnsembleShares, LabelCountsSumUpAndMembersStayBalanced) {
  cg::GenerateOptions o;
  o.label_counts = {{"B", 5}, {"NK", 4}, {"T", 1}, {"DC", 0}};
  o.n_cells = 10;
  const auto shares = cg::ensemble_member_options(o, 3);
  std::map<std::string, std::int64_t> total;
  std::int64_t lo = 1 << 30, hi = 0;
  for (const auto& s : shares) {
    std::int64_t sum = 0;
    for (const auto& [label, n] : s.label_counts) {
      total[label] += n;
      sum += n;
    }
    EXPECT_EQ(sum, s.n_cells);  // the generator requires it
    lo = std::min(lo, s.n_cells);
    hi = std::max(hi, s.n_cells);
    ASSERT_EQ(s.label_counts.size(), 4u);  // every label named, in order
    EXPECT_EQ(s.label_counts[0].first, "B");
  }
  EXPECT_EQ(total, counts_of(o));
  EXPECT_LE(hi - lo, 1);  // 4, 3, 3 rather than 5, 3, 2
  // Within a label, shares differ by at most one.
  for (const auto& [label, n] : counts_of(o))
    for (const auto& s : shares) {
      const std::int64_t c = counts_of(s).at(label);
      EXPECT_TRUE(c == n / 3 || c == n / 3 + 1) << label;
    }
}

TEST(EnsembleCheck, RefusesModelsOfOtherGenesOrLabelsNamingThePath) {
  const cp::TrainedModel a = model_with({"CD3E", "MS4A1", "NKG7"}, {"B", "T"});
  const cp::TrainedModel same = model_with({"CD3E", "MS4A1", "NKG7"}, {"B", "T"});
  EXPECT_NO_THROW(cg::check_ensemble({&a, &same}, {"m0", "m1"}));

  const cp::TrainedModel genes = model_with({"CD3E", "LYZ", "NKG7"}, {"B", "T"});
  try {
    cg::check_ensemble({&a, &same, &genes}, {"m0", "m1", "other/model"});
    FAIL() << "different genes accepted";
  } catch (const cellvae::InputError& e) {
    EXPECT_TRUE(contains(e.what(), "other/model")) << e.what();
    EXPECT_TRUE(contains(e.what(), "first difference at gene 2")) << e.what();
  }
  const cp::TrainedModel labels = model_with({"CD3E", "MS4A1", "NKG7"}, {"B", "NK"});
  try {
    cg::check_ensemble({&a, &labels}, {"m0", "m_nk"});
    FAIL() << "different labels accepted";
  } catch (const cellvae::InputError& e) {
    EXPECT_TRUE(contains(e.what(), "m_nk")) << e.what();
    EXPECT_TRUE(contains(e.what(), "'cell_type' (B, NK)")) << e.what();
  }
  cp::TrainedModel nb = model_with({"CD3E", "MS4A1", "NKG7"}, {"B", "T"});
  nb.options.model.likelihood = cellvae::model::LikelihoodKind::nb;
  EXPECT_THROW(cg::check_ensemble({&a, &nb}, {"m0", "m_nb"}), cellvae::InputError);
}
