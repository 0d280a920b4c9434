// `cellvae embed`, `denoise` and `cluster` end to end: simulate, fit a few epochs, apply the
// model; output shapes, names and keys, and errors that name the file, key or value.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "cellvae/io.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
using cellvae::testing::contains;
using cellvae::testing::quoted;

const char* kFast = " --epochs 3 --threads 1 --quiet --seed 5 --batch-size 64 --kl-warmup 0";

/// Simulated data and two models, each made once per test program (and only when a test uses
/// it): an NB model with a batch covariate on 20 of the 40 genes (HVGs), and a GMVAE without
/// batches.
struct Fixture {
  cvt::ScratchDir dir;
  fs::path data = dir / "sim.h5ad";
  fs::path nb_dir = dir / "nb";
  fs::path gmvae_dir = dir / "gmvae";
  Fixture() {
    auto r = cvt::run_cellvae("simulate -o " + quoted(data) +
                              " --cells 150 --genes 40 --groups 3 --batches 2 --seed 4");
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  const fs::path& nb() const {
    static const bool done = fit(nb_dir,
                                 " --preset scvi --likelihood nb --batch-key batch --label-key "
                                 "group --n-top-genes 20 --latent-dim 4");
    (void)done;
    return nb_dir;
  }
  const fs::path& gmvae() const {
    static const bool done = fit(gmvae_dir, " --preset gmvae --components 3 --latent-dim 3");
    (void)done;
    return gmvae_dir;
  }

 private:
  bool fit(const fs::path& out, const std::string& flags) const {
    auto r = cvt::run_cellvae("fit " + quoted(data) + " -o " + quoted(out) + flags + kFast);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return true;
  }
};

const Fixture& fx() {
  static Fixture f;
  return f;
}

std::vector<std::string> model_genes(const fs::path& model) {
  return json::parse(cvt::read_text(model / "preprocess.json"))
      .at("genes")
      .get<std::vector<std::string>>();
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::istringstream in(cvt::read_text(p));
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}
}  // namespace

TEST(CliEmbed, WritesTheEmbeddingToObsmKeepingCellsAndObs) {
  const Fixture& f = fx();
  cvt::ScratchDir dir;
  const auto out = dir / "embedded.h5ad";
  auto r = cvt::run_cellvae("embed " + quoted(f.nb()) + " " + quoted(f.data) + " -o " + quoted(out) +
                            " --threads 1 --batch-size 33");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cellvae::Dataset in = cellvae::read_dataset(f.data);
  const cellvae::Dataset e = cellvae::read_dataset(out);
  EXPECT_EQ(e.n_cells(), 150);
  EXPECT_EQ(e.obs.index, in.obs.index);
  EXPECT_NE(e.obs.find("group"), nullptr);
  EXPECT_NE(e.obs.find("batch"), nullptr);
  EXPECT_EQ(e.obs.find("cellvae_cluster"), nullptr) << "normal prior: no clusters";
  // X: the input counts of the model's genes.
  EXPECT_EQ(e.var.index, model_genes(f.nb()));
  EXPECT_EQ(e.n_genes(), 20);
  ASSERT_EQ(e.obsm.count("X_cellvae"), 1u);
  const cellvae::DenseArray& z = e.obsm.at("X_cellvae");
  EXPECT_EQ(z.rows, 150);
  EXPECT_EQ(z.cols, 4);
  for (double v : z.values) EXPECT_TRUE(std::isfinite(v));

  // The chunk size changes the embedding only by rounding; --all-genes keeps every input gene.
  r = cvt::run_cellvae("embed " + quoted(f.nb()) + " " + quoted(f.data) + " -o " + quoted(dir / "all.h5ad") +
                       " --threads 1 --all-genes");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cellvae::Dataset all = cellvae::read_dataset(dir / "all.h5ad");
  EXPECT_EQ(all.n_genes(), 40);
  const auto& z_all = all.obsm.at("X_cellvae").values;
  ASSERT_EQ(z_all.size(), z.values.size());
  for (std::size_t i = 0; i < z_all.size(); ++i) EXPECT_NEAR(z_all[i], z.values[i], 1e-5);

  // An existing output is kept without --force.
  r = cvt::run_cellvae("embed " + quoted(f.nb()) + " " + quoted(f.data) + " -o " + quoted(out));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--force")) << r.output;
}

TEST(CliEmbed, CsvOutputIsTheEmbeddingTable) {
  const Fixture& f = fx();
  cvt::ScratchDir dir;
  const auto out = dir / "z.csv";
  auto r =
      cvt::run_cellvae("embed " + quoted(f.nb()) + " " + quoted(f.data) + " -o " + quoted(out) + " --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cellvae::Dataset t = cellvae::read_dataset(out);
  EXPECT_EQ(t.n_cells(), 150);
  EXPECT_EQ(t.var.index,
            (std::vector<std::string>{"cellvae_1", "cellvae_2", "cellvae_3", "cellvae_4"}));
  EXPECT_EQ(t.obs.index, cellvae::read_dataset(f.data).obs.index);
  r = cvt::run_cellvae("embed " + quoted(f.nb()) + " " + quoted(f.data) + " -o " + quoted(dir / "folder"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "10x")) << r.output;
}

TEST(CliEmbed, MixturePriorAddsClustersAndProbabilities) {
  const Fixture& f = fx();
  cvt::ScratchDir dir;
  const auto out = dir / "g.h5ad";
  auto r = cvt::run_cellvae("embed " + quoted(f.gmvae()) + " " + quoted(f.data) + " -o " + quoted(out) +
                            " --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cellvae::Dataset e = cellvae::read_dataset(out);
  const cellvae::Column* c = e.obs.find("cellvae_cluster");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->kind, cellvae::ColumnKind::categorical);
  EXPECT_EQ(c->categories, (std::vector<std::string>{"0", "1", "2"}));
  const cellvae::DenseArray& p = e.obsm.at("cellvae_cluster_probabilities");
  ASSERT_EQ(p.rows, 150);
  ASSERT_EQ(p.cols, 3);
  for (std::int64_t i = 0; i < p.rows; ++i) {
    double sum = 0, best = -1;
    std::int32_t arg = -1;
    for (std::int64_t k = 0; k < 3; ++k) {
      const double v = p.values[static_cast<std::size_t>(i * 3 + k)];
      sum += v;
      if (v > best) best = v, arg = static_cast<std::int32_t>(k);
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
    EXPECT_EQ(c->codes[static_cast<std::size_t>(i)], arg);
  }
  EXPECT_EQ(e.obsm.at("X_cellvae").cols, 3);
}

TEST(CliDenoise, WritesExpectedExpressionForTheModelsGenes) {
  const Fixture& f = fx();
  cvt::ScratchDir dir;
  const auto out = dir / "d.h5ad";
  auto r = cvt::run_cellvae("denoise " + quoted(f.nb()) + " " + quoted(f.data) + " -o " + quoted(out) +
                            " --threads 1 --library-size 1000");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cellvae::Dataset d = cellvae::read_dataset(out);
  EXPECT_EQ(d.n_cells(), 150);
  EXPECT_EQ(d.var.index, model_genes(f.nb()));
  EXPECT_NE(d.obs.find("group"), nullptr);
  for (double s : cellvae::row_sums(d.X)) EXPECT_NEAR(s, 1000, 0.05);
  EXPECT_FALSE(cellvae::is_integer_valued(d.X));

  // Counterfactual batch: different values, same shape; as CSV.
  r = cvt::run_cellvae("denoise " + quoted(f.nb()) + " " + quoted(f.data) + " -o " + quoted(dir / "b.csv") +
                       " --threads 1 --library-size 1000 --transform-batch batch2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cellvae::Dataset b = cellvae::read_dataset(dir / "b.csv");
  EXPECT_EQ(b.n_cells(), 150);
  EXPECT_EQ(b.n_genes(), 20);
  EXPECT_NE(cellvae::to_dense(b.X), cellvae::to_dense(d.X));
}

TEST(CliDenoise, BatchErrorsNameTheBatches) {
  const Fixture& f = fx();
  cvt::ScratchDir dir;
  auto r = cvt::run_cellvae("denoise " + quoted(f.nb()) + " " + quoted(f.data) + " -o " + quoted(dir / "x.h5ad") +
                            " --transform-batch batch7");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "batch7")) << r.output;
  EXPECT_TRUE(contains(r.output, "batch1, batch2")) << r.output;
  r = cvt::run_cellvae("denoise " + quoted(f.gmvae()) + " " + quoted(f.data) + " -o " + quoted(dir / "x.h5ad") +
                       " --transform-batch batch1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "not conditioned on batches")) << r.output;
  EXPECT_FALSE(fs::exists(dir / "x.h5ad"));
}

TEST(CliCluster, WritesAssignmentsAndMetrics) {
  const Fixture& f = fx();
  cvt::ScratchDir dir;
  auto r = cvt::run_cellvae("cluster " + quoted(f.nb()) + " " + quoted(f.data) +
                            " --threads 1 -k 3 --label-key group -o " + quoted(dir / "c.csv") + " -o " +
                            quoted(dir / "c.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "ARI")) << r.output;
  const auto lines = lines_of(dir / "c.csv");
  ASSERT_EQ(lines.size(), 151u);
  EXPECT_EQ(lines[0], "cell,cluster");
  EXPECT_EQ(lines[1].rfind(cellvae::read_dataset(f.data).obs.index[0] + ",", 0), 0u);
  const json j = json::parse(cvt::read_text(dir / "c.json"));
  EXPECT_EQ(j.at("method"), "kmeans");
  EXPECT_EQ(j.at("clusters"), 3);
  EXPECT_EQ(j.at("label_key"), "group");
  EXPECT_EQ(j.at("sizes").size(), 3u);
  const double ari = j.at("adjusted_rand_index").get<double>();
  EXPECT_TRUE(ari >= -0.5 && ari <= 1.0) << ari;
  EXPECT_TRUE(j.contains("normalized_mutual_information"));

  // gmm with K by BIC, and the GMVAE's own components.
  r = cvt::run_cellvae("cluster " + quoted(f.nb()) + " " + quoted(f.data) + " --threads 1 --method gmm -o " +
                       quoted(dir / "g.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(json::parse(cvt::read_text(dir / "g.json")).at("selected_by_bic").get<bool>());
  r = cvt::run_cellvae("cluster " + quoted(f.gmvae()) + " " + quoted(f.data) +
                       " --threads 1 --method model -o " + quoted(dir / "m.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(json::parse(cvt::read_text(dir / "m.json")).at("clusters"), 3);
}

TEST(CliCluster, ErrorsNameTheKeyMethodOrOutput) {
  const Fixture& f = fx();
  cvt::ScratchDir dir;
  auto r =
      cvt::run_cellvae("cluster " + quoted(f.nb()) + " " + quoted(f.data) + " -k 3 --label-key cell_type");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "cell_type")) << r.output;
  r = cvt::run_cellvae("cluster " + quoted(f.nb()) + " " + quoted(f.data) + " --method model");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--method model")) << r.output;
  r = cvt::run_cellvae("cluster " + quoted(f.nb()) + " " + quoted(f.data) + " --method leiden");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "leiden")) << r.output;
  r = cvt::run_cellvae("cluster " + quoted(f.nb()) + " " + quoted(f.data) + " -o " + quoted(dir / "c.parquet"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "c.parquet")) << r.output;
}

TEST(CliLatent, DataWithOtherGenesIsRejected) {
  const Fixture& f = fx();
  cvt::ScratchDir dir;
  const auto other = dir / "other.h5ad";
  ASSERT_EQ(cvt::run_cellvae("simulate -o " + quoted(other) + " --cells 30 --genes 10").exit_code, 0);
  for (const std::string& cmd :
       {"embed " + quoted(f.nb()) + " " + quoted(other) + " -o " + quoted(dir / "e.h5ad"),
        "denoise " + quoted(f.nb()) + " " + quoted(other) + " -o " + quoted(dir / "d.h5ad"),
        "cluster " + quoted(f.nb()) + " " + quoted(other) + " -k 2"}) {
    auto r = cvt::run_cellvae(cmd);
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "gene")) << cmd << "\n" << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "e.h5ad"));
  EXPECT_FALSE(fs::exists(dir / "d.h5ad"));
}
