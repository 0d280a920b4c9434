// `cellvae generate` and `cellvae augment` end to end: output files, annotations, seeds,
// formats, and errors that name the flag.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "cellvae/io.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
namespace fs = std::filesystem;

namespace {
using cellvae::testing::contains;
using cellvae::testing::quoted;

struct Fixture {
  cvt::ScratchDir dir;
  fs::path data = dir / "sim.h5ad";
  fs::path model = dir / "model";
  Fixture() {
    auto r = cvt::run_cellvae("simulate -o " + quoted(data) +
                              " --cells 400 --genes 60 --groups 3 --batches 2 --seed 3");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = cvt::run_cellvae("fit " + quoted(data) + " -o " + quoted(model) +
                         " --label-key group --batch-key batch --epochs 8 --threads 1 --quiet");
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
};

// One fitted model for the whole file.
const Fixture& fixture() {
  static Fixture f;
  return f;
}

std::map<std::string, int> category_counts(const cellvae::Dataset& ds, const std::string& key) {
  std::map<std::string, int> n;
  const cellvae::Column& c = ds.obs.at(key);
  for (std::size_t i = 0; i < c.size(); ++i) ++n[c.text(i)];
  return n;
}
}  // namespace

TEST(CliGenerate, WritesAnnotatedCountsWithTheModelsGenes) {
  const Fixture& f = fixture();
  cvt::ScratchDir dir;
  const auto out = dir / "gen.h5ad";
  auto r =
      cvt::run_cellvae("generate " + quoted(f.model) + " -n 150 -o " + quoted(out) + " --seed 4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "latent mixture for group1")) << r.output;
  const cellvae::Dataset gen = cellvae::read_dataset(out);
  EXPECT_EQ(gen.n_cells(), 150);
  const cellvae::Dataset real = cellvae::read_dataset(f.data);
  // The model's genes: every generated gene is a real gene, in the real order.
  ASSERT_GT(gen.n_genes(), 0);
  auto it = real.var.index.begin();
  for (const auto& g : gen.var.index) {
    it = std::find(it, real.var.index.end(), g);
    ASSERT_NE(it, real.var.index.end()) << g;
  }
  EXPECT_TRUE(cellvae::is_integer_valued(gen.X));
  EXPECT_EQ(category_counts(gen, "origin")["generated"], 150);
  EXPECT_EQ(gen.obs.at("group").categories, real.obs.at("group").categories);
  EXPECT_EQ(gen.obs.at("batch").categories, real.obs.at("batch").categories);
  EXPECT_EQ(std::get<std::string>(gen.uns.at("cellvae_sampler")), "gmm");
  EXPECT_EQ(std::get<std::int64_t>(gen.uns.at("cellvae_seed")), 4);
  EXPECT_TRUE(contains(std::get<std::string>(gen.uns.at("cellvae_generate")), "mixtures"));
}

TEST(CliGenerate, SameSeedSameFileContent) {
  const Fixture& f = fixture();
  cvt::ScratchDir dir;
  for (const char* name : {"a.h5ad", "b.h5ad"})
    ASSERT_EQ(cvt::run_cellvae("generate " + quoted(f.model) + " -n 80 -q --seed 2 -o " +
                               quoted(dir / name))
                  .exit_code,
              0);
  ASSERT_EQ(cvt::run_cellvae("generate " + quoted(f.model) + " -n 80 -q --seed 3 -o " +
                             quoted(dir / "c.h5ad"))
                .exit_code,
            0);
  const auto a = cellvae::read_dataset(dir / "a.h5ad"), b = cellvae::read_dataset(dir / "b.h5ad"),
             c = cellvae::read_dataset(dir / "c.h5ad");
  EXPECT_EQ(a.X.data, b.X.data);
  EXPECT_EQ(a.X.indices, b.X.indices);
  EXPECT_EQ(a.obs.at("group").codes, b.obs.at("group").codes);
  EXPECT_NE(a.X.data, c.X.data);
}

TEST(CliGenerate, LabelCountsBatchAndLibrarySize) {
  const Fixture& f = fixture();
  cvt::ScratchDir dir;
  const auto out = dir / "gen.h5ad";
  auto r = cvt::run_cellvae("generate " + quoted(f.model) + " -q --labels 'group1=5,group3=7' " +
                            "--batch batch2 --library-size 1000 --mean -o " + quoted(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cellvae::Dataset gen = cellvae::read_dataset(out);
  EXPECT_EQ(gen.n_cells(), 12);  // -n from the label counts
  auto labels = category_counts(gen, "group");
  EXPECT_EQ(labels["group1"], 5);
  EXPECT_EQ(labels["group3"], 7);
  EXPECT_EQ(category_counts(gen, "batch")["batch2"], 12);
  for (double total : cellvae::row_sums(gen.X)) EXPECT_LT(total, 1000.0 + 1e-2);
  for (double l : gen.obs.at("library_size").numbers) EXPECT_EQ(l, 1000.0);
}

TEST(CliGenerate, WithRealCellsFirstAndCsvWithAnObsTable) {
  const Fixture& f = fixture();
  cvt::ScratchDir dir;
  const auto out = dir / "both.csv";
  auto r = cvt::run_cellvae("generate " + quoted(f.model) + " -n 20 -q --with-real " +
                            quoted(f.data) + " -o " + quoted(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cellvae::Dataset both = cellvae::read_dataset(out);
  EXPECT_EQ(both.n_cells(), 420);
  EXPECT_EQ(both.obs.index[0], "cell1");
  EXPECT_EQ(both.obs.index[400], "generated_1");
  const std::string obs = cvt::read_text(dir / "both_obs.csv");
  EXPECT_TRUE(contains(obs, "cell,group,batch,origin,library_size\n")) << obs.substr(0, 200);
  EXPECT_TRUE(contains(obs, "\ncell1,")) << obs.substr(0, 200);
  EXPECT_TRUE(contains(obs, "\ngenerated_20,")) << obs.substr(obs.size() - 200);
}

TEST(CliGenerate, PosteriorSamplerDrawsAroundTheGivenCells) {
  const Fixture& f = fixture();
  cvt::ScratchDir dir;
  auto r = cvt::run_cellvae("generate " + quoted(f.model) + " -q --sampler posterior --from " +
                            quoted(f.data) + " -o " + quoted(dir / "pp.h5ad"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cellvae::Dataset pp = cellvae::read_dataset(dir / "pp.h5ad");
  const cellvae::Dataset real = cellvae::read_dataset(f.data);
  EXPECT_EQ(pp.n_cells(), real.n_cells());  // one per given cell by default
  EXPECT_EQ(pp.obs.at("group").codes, real.obs.at("group").codes);
}

TEST(CliGenerate, ErrorsNameTheFlagAndKeepExistingOutputs) {
  const Fixture& f = fixture();
  cvt::ScratchDir dir;
  const std::string base = "generate " + quoted(f.model) + " -o " + quoted(dir / "g.h5ad") + " ";
  auto r = cvt::run_cellvae(base + "--labels 'T cells=3'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--labels")) << r.output;
  EXPECT_TRUE(contains(r.output, "group1, group2, group3")) << r.output;
  r = cvt::run_cellvae(base + "--batch b7");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "batch1, batch2")) << r.output;
  r = cvt::run_cellvae(base + "--sampler posterior");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--from")) << r.output;
  r = cvt::run_cellvae(base + "--sampler magic");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--sampler")) << r.output;
  r = cvt::run_cellvae("generate " + quoted(dir / "nomodel") + " -o " + quoted(dir / "g.h5ad"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "nomodel")) << r.output;
  EXPECT_FALSE(fs::exists(dir / "g.h5ad"));

  ASSERT_EQ(cvt::run_cellvae(base + "-n 5 -q").exit_code, 0);
  const std::string before = cvt::read_text(dir / "g.h5ad");
  r = cvt::run_cellvae(base + "-n 6 -q");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--force")) << r.output;
  EXPECT_EQ(cvt::read_text(dir / "g.h5ad"), before);
  EXPECT_EQ(cvt::run_cellvae(base + "-n 6 -q --force").exit_code, 0);
  EXPECT_EQ(cellvae::read_dataset(dir / "g.h5ad").n_cells(), 6);
}

TEST(CliGenerate, EnsembleSharesTheCellsAndRefusesOtherGenes) {
  const Fixture& f = fixture();
  cvt::ScratchDir dir;
  const auto second = dir / "model_seed5";
  auto r =
      cvt::run_cellvae("fit " + quoted(f.data) + " -o " + quoted(second) +
                       " --label-key group --batch-key batch --epochs 8 --threads 1 -q --seed 5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string models = quoted(f.model) + " " + quoted(second);
  const std::string labels = " --labels 'group1=40,group2=21,group3=0' --seed 3";
  r = cvt::run_cellvae("generate " + models + labels + " -o " + quoted(dir / "e.h5ad"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "ensemble of 2 models")) << r.output;
  const cellvae::Dataset e = cellvae::read_dataset(dir / "e.h5ad");
  ASSERT_EQ(e.n_cells(), 61);
  EXPECT_TRUE(cellvae::is_integer_valued(e.X));
  // --labels is honoured over the whole ensemble; each model draws about half of every label.
  EXPECT_EQ(category_counts(e, "group"),
            (std::map<std::string, int>{{"group1", 40}, {"group2", 21}}));
  const cellvae::Column& member = e.obs.at("ensemble_member");
  ASSERT_EQ(member.categories.size(), 2u);
  std::map<std::pair<std::string, std::string>, int> per;
  for (std::size_t i = 0; i < member.size(); ++i)
    ++per[{member.text(i), e.obs.at("group").text(i)}];
  const std::string m0 = member.categories[0], m1 = member.categories[1];
  const auto n_of = [&](const std::string& m, const std::string& g) { return per[{m, g}]; };
  EXPECT_EQ(n_of(m0, "group1"), 20);
  EXPECT_EQ(n_of(m1, "group1"), 20);
  EXPECT_EQ(n_of(m0, "group2") + n_of(m1, "group2"), 21);
  EXPECT_TRUE(contains(std::get<std::string>(e.uns.at("cellvae_generate")), "members"));
  // The first model's share is what it draws alone with the same seed (member k: seed + k).
  r = cvt::run_cellvae("generate " + quoted(f.model) +
                       " --labels 'group1=20,group2=11,group3=0'"
                       " --seed 3 -q -o " +
                       quoted(dir / "alone.h5ad"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cellvae::Dataset alone = cellvae::read_dataset(dir / "alone.h5ad");
  ASSERT_EQ(alone.n_cells(), 31);
  const std::vector<float> first = cellvae::to_dense(e.X);
  EXPECT_EQ(cellvae::to_dense(alone.X),
            std::vector<float>(first.begin(), first.begin() + 31 * e.n_genes()));

  // A model of other genes cannot join: exit 2 naming it, nothing written.
  const auto other = dir / "model_30genes";
  r = cvt::run_cellvae(
      "fit " + quoted(f.data) + " -o " + quoted(other) +
      " --label-key group --batch-key batch --n-top-genes 30 --epochs 2 --threads 1 -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = cvt::run_cellvae("generate " + models + " " + quoted(other) + " -o " +
                       quoted(dir / "x.h5ad"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "model_30genes")) << r.output;
  EXPECT_TRUE(contains(r.output, "genes differ")) << r.output;
  EXPECT_FALSE(fs::exists(dir / "x.h5ad"));
  r = cvt::run_cellvae("generate " + models + " --sampler posterior --from " + quoted(f.data) +
                       " -o " + quoted(dir / "x.h5ad"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "single model")) << r.output;
}

TEST(CliAugment, FitsGeneratesAndKeepsTheRunFolder) {
  const Fixture& f = fixture();
  cvt::ScratchDir dir;
  const auto out = dir / "augmented.h5ad";
  auto r = cvt::run_cellvae("augment " + quoted(f.data) + " -n 120 -o " + quoted(out) +
                            " --label-key group --batch-key batch --epochs 5 --threads 1 -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cellvae::Dataset aug = cellvae::read_dataset(out);
  EXPECT_EQ(aug.n_cells(), 400 + 120);
  auto origin = category_counts(aug, "origin");
  EXPECT_EQ(origin["real"], 400);
  EXPECT_EQ(origin["generated"], 120);
  const auto run = dir / "augmented_run";
  EXPECT_TRUE(fs::exists(run / "model" / "model.json"));
  EXPECT_TRUE(fs::exists(run / "augment.json"));
  // 10% held out, stratified by label: 40 names, none of them used for training.
  const std::string test_cells = cvt::read_text(run / "test_cells.txt");
  EXPECT_EQ(std::count(test_cells.begin(), test_cells.end(), '\n'), 40);
  const std::string model_json = cvt::read_text(run / "model" / "model.json");
  EXPECT_TRUE(contains(model_json, "\"n_cells\": 360")) << model_json.substr(0, 400);
  const std::string metrics = cvt::read_text(run / "metrics.json");
  EXPECT_TRUE(contains(metrics, "random_forest")) << metrics.substr(0, 400);

  // Nothing is replaced without --force.
  r = cvt::run_cellvae("augment " + quoted(f.data) + " -n 10 -o " + quoted(out) + " --epochs 1 -q");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(cellvae::read_dataset(out).n_cells(), 520);
}

TEST(CliAugment, EnsembleFitsKModelsWithSuccessiveSeedsAndDrawsFromAll) {
  const Fixture& f = fixture();
  cvt::ScratchDir dir;
  const auto out = dir / "aug.h5ad";
  auto r = cvt::run_cellvae("augment " + quoted(f.data) + " -n 50 -o " + quoted(out) +
                            " --label-key group --batch-key batch --epochs 4 --threads 1 -q"
                            " --seed 11 --ensemble 2 --no-report");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto run = dir / "aug_run";
  const std::string first = cvt::read_text(run / "model" / "model.json");
  const std::string second = cvt::read_text(run / "model_2" / "model.json");
  EXPECT_TRUE(contains(first, "\"seed\": 11")) << first.substr(0, 600);
  EXPECT_TRUE(contains(second, "\"seed\": 12")) << second.substr(0, 600);
  EXPECT_NE(cvt::read_text(run / "model" / "weights.pt"),
            cvt::read_text(run / "model_2" / "weights.pt"));
  const cellvae::Dataset aug = cellvae::read_dataset(out);
  EXPECT_EQ(category_counts(aug, "origin")["generated"], 50);
  // Real cells have no member (missing).
  EXPECT_EQ(category_counts(aug, "ensemble_member"),
            (std::map<std::string, int>{{"", 400}, {"model", 25}, {"model_2", 25}}));
  EXPECT_TRUE(fs::exists(run / "metrics.json"));
  EXPECT_TRUE(contains(cvt::read_text(run / "augment.json"), "model_2"));

  r = cvt::run_cellvae("augment " + quoted(f.data) + " -n 5 -o " + quoted(dir / "x.h5ad") +
                       " --ensemble 0 -q");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--ensemble")) << r.output;
}

TEST(CliAugment, ScoresACsvOutputWhoseOriginLivesInASeparateObsFile) {
  const Fixture& f = fixture();
  cvt::ScratchDir dir;
  const auto out = dir / "augmented.csv";
  auto r = cvt::run_cellvae("augment " + quoted(f.data) + " -n 30 -o " + quoted(out) +
                            " --label-key group --epochs 2 --threads 1 --no-report");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(cellvae::read_dataset(out).n_cells(), 400 + 30);
  const std::string metrics = cvt::read_text(dir / "augmented_run" / "metrics.json");
  EXPECT_TRUE(contains(metrics, "\"n_other\": 30")) << metrics.substr(0, 600);
  EXPECT_TRUE(contains(r.output, "augmented_obs.csv")) << r.output;  // why no label accuracy
}
