// The architecture diagram: the DOT text names the layers the module really has, with their
// shapes, for each preset and the options that change the layers; rendering gives files of
// each format that show the role colours; bad colours and DOT are InputErrors.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "cellvae/error.hpp"
#include "cellvae/pipeline/fit_options.hpp"
#include "cellvae/plot/architecture.hpp"
#include "png_check.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
namespace cp = cellvae::plot;
namespace cm = cellvae::model;
using cellvae::testing::contains;

namespace {

/// The preset's model config with the data-dependent sizes filled in, as fit() does.
cm::ModelConfig preset_config(cellvae::pipeline::Preset preset, std::int64_t genes,
                              std::int64_t labels = 0, std::int64_t batches = 0) {
  cm::ModelConfig c = cellvae::pipeline::preset_options(preset).model;
  c.n_genes = genes;
  c.n_labels = labels;
  c.n_batches = batches;
  return c;
}

/// The statement declaring node `id` in DOT text ("" when there is none).
std::string node_of(const std::string& dot, const std::string& id) {
  const std::string start = "  \"" + id + "\" [label=";
  const auto at = dot.find(start);
  if (at == std::string::npos) return "";
  return dot.substr(at, dot.find('\n', at) - at);
}

bool has_node(const std::string& dot, const std::string& id) { return !node_of(dot, id).empty(); }

bool has_edge(const std::string& dot, const std::string& from, const std::string& to) {
  return contains(dot, "\"" + from + "\" -> \"" + to + "\"");
}

/// Nodes whose id starts with `prefix`.
int count_nodes(const std::string& dot, const std::string& prefix) {
  int n = 0;
  for (std::size_t at = dot.find("  \"" + prefix); at != std::string::npos;
       at = dot.find("  \"" + prefix, at + 1))
    if (dot.compare(dot.find('"', at + 3) + 1, 8, " [label=") == 0) ++n;
  return n;
}

std::string write_bytes(const cvt::ScratchDir& dir, const std::string& name,
                        const std::string& bytes) {
  const auto path = dir / name;
  cvt::write_text(path, bytes);
  return path.string();
}

/// Pixels within `tol` of 0xRRGGBB in every channel.
std::size_t pixels_near(const cvt::DecodedPng& png, std::uint32_t rgb, int tol = 6) {
  std::size_t n = 0;
  for (int y = 0; y < png.height(); ++y)
    for (int x = 0; x < png.width(); ++x) {
      const std::uint32_t p = png.pixel(x, y);
      bool near = true;
      for (int shift : {16, 8, 0})
        near = near && std::abs(static_cast<int>((p >> shift) & 0xff) -
                                static_cast<int>((rgb >> shift) & 0xff)) <= tol;
      if (near) ++n;
    }
  return n;
}

}  // namespace

TEST(ArchitectureDot, ScviPresetHasItsLayersAndShapes) {
  using cellvae::pipeline::Preset;
  const std::string dot = cp::architecture_dot(preset_config(Preset::scvi, 1300, 0, 3));
  EXPECT_TRUE(contains(dot, "digraph")) << dot;
  // log1p input, one encoder layer with batch norm and dropout; batches only in the decoder.
  EXPECT_TRUE(contains(node_of(dot, "x"), "1300 genes")) << dot;
  EXPECT_TRUE(has_node(dot, "log1p"));
  EXPECT_TRUE(contains(node_of(dot, "encoder.layers.0"),
                       "Linear 1300→128 · BatchNorm · ReLU · Dropout 0.1"))
      << node_of(dot, "encoder.layers.0");
  EXPECT_EQ(count_nodes(dot, "encoder.layers."), 1);
  EXPECT_TRUE(has_edge(dot, "log1p", "encoder.layers.0"));
  EXPECT_FALSE(has_edge(dot, "batches", "encoder.layers.0"));
  EXPECT_TRUE(contains(node_of(dot, "z_mean"), "Linear 128→10"));
  EXPECT_TRUE(contains(node_of(dot, "z_log_variance"), "Linear 128→10"));
  EXPECT_TRUE(contains(node_of(dot, "z_log_variance"), "+ 0.0001"));  // variance epsilon
  EXPECT_TRUE(contains(node_of(dot, "prior"), "N(0, I) · 10"));
  EXPECT_FALSE(has_node(dot, "component_logits"));
  // Decoder: z plus the 3 one-hot batches, no dropout.
  const std::string dec = node_of(dot, "decoder.layers.0");
  EXPECT_TRUE(contains(dec, "Linear 10+3→128 · BatchNorm · ReLU")) << dec;
  EXPECT_FALSE(contains(dec, "Dropout")) << dec;
  EXPECT_TRUE(has_edge(dot, "batches", "decoder.layers.0"));
  EXPECT_TRUE(contains(node_of(dot, "batches"), "one-hot 3"));
  // ZINB heads: softmax scale times the observed library, per-gene θ, π logits.
  EXPECT_TRUE(contains(node_of(dot, "mean_head"), "Linear 128→1300 · softmax"));
  EXPECT_TRUE(contains(node_of(dot, "library"), "observed"));
  EXPECT_TRUE(has_edge(dot, "x", "library"));
  EXPECT_TRUE(has_edge(dot, "library", "likelihood"));
  EXPECT_TRUE(contains(node_of(dot, "log_dispersion"), "learned per gene · 1300"));
  EXPECT_FALSE(has_node(dot, "dispersion_head"));
  EXPECT_TRUE(contains(node_of(dot, "zero_head"), "Linear 128→1300 · logits"));
  const std::string lik = node_of(dot, "likelihood");
  EXPECT_TRUE(contains(lik, "ZINB")) << lik;
  EXPECT_TRUE(contains(lik, "μ = ℓ · ρ, θ, π")) << lik;
}

TEST(ArchitectureDot, VaexprsPresetIsAConditionalBernoulliVae) {
  using cellvae::pipeline::Preset;
  const std::string dot = cp::architecture_dot(preset_config(Preset::vaexprs, 500, 4));
  EXPECT_FALSE(has_node(dot, "log1p"));  // the data layer scales; the encoder sees x
  EXPECT_TRUE(contains(node_of(dot, "x"), "min-max"));
  // Labels enter the encoder and the decoder; no norm, no dropout.
  const std::string enc = node_of(dot, "encoder.layers.0");
  EXPECT_TRUE(contains(enc, "Linear 500+4→256 · ReLU")) << enc;
  EXPECT_FALSE(contains(enc, "Norm")) << enc;
  EXPECT_FALSE(contains(enc, "Dropout")) << enc;
  EXPECT_TRUE(has_edge(dot, "labels", "encoder.layers.0"));
  EXPECT_TRUE(has_edge(dot, "labels", "decoder.layers.0"));
  EXPECT_TRUE(contains(node_of(dot, "z_mean"), "Linear 256→2"));
  EXPECT_FALSE(contains(node_of(dot, "z_log_variance"), "exp(·) +"));  // epsilon 0
  EXPECT_TRUE(contains(node_of(dot, "decoder.layers.0"), "Linear 2+4→256 · ReLU"));
  EXPECT_TRUE(contains(node_of(dot, "mean_head"), "Linear 256→500 · sigmoid"));
  EXPECT_TRUE(contains(node_of(dot, "likelihood"), "Bernoulli"));
  for (const char* absent :
       {"library", "log_dispersion", "dispersion_head", "zero_head", "batches"})
    EXPECT_FALSE(has_node(dot, absent)) << absent;
}

TEST(ArchitectureDot, GmvaePresetHasTheMixture) {
  using cellvae::pipeline::Preset;
  cm::ModelConfig c = preset_config(Preset::gmvae, 200);
  c.components = 5;
  const std::string dot = cp::architecture_dot(c);
  EXPECT_EQ(count_nodes(dot, "encoder.layers."), 2);
  EXPECT_EQ(count_nodes(dot, "decoder.layers."), 2);
  EXPECT_TRUE(contains(node_of(dot, "encoder.layers.0"), "Linear 200→128 · BatchNorm · ReLU"));
  EXPECT_TRUE(contains(node_of(dot, "encoder.layers.1"), "Linear 128→128 · BatchNorm · ReLU"));
  EXPECT_TRUE(has_edge(dot, "encoder.layers.0", "encoder.layers.1"));
  EXPECT_TRUE(contains(node_of(dot, "component_logits"), "Linear 128→5 · softmax"));
  EXPECT_TRUE(contains(node_of(dot, "z_mean"), "5 × 10"));
  EXPECT_TRUE(contains(node_of(dot, "z"), "5 × 10"));
  EXPECT_TRUE(contains(node_of(dot, "prior"), "5 Gaussians"));
  EXPECT_TRUE(contains(node_of(dot, "prior"), "uniform"));
  EXPECT_TRUE(contains(node_of(dot, "likelihood"), "NB"));
  EXPECT_FALSE(has_node(dot, "zero_head"));
  EXPECT_TRUE(contains(node_of(dot, "log_dispersion"), "200"));
  EXPECT_FALSE(has_node(dot, "labels"));  // labels are not covariates of a GMVAE
}

TEST(ArchitectureDot, OptionsThatChangeTheLayers) {
  using cellvae::pipeline::Preset;
  // Latent library with batches: scVI's l-encoder and its per-batch prior.
  cm::ModelConfig c = preset_config(Preset::scvi, 300, 0, 2);
  c.library = cm::LibraryKind::latent;
  c.batches_in_encoder = true;
  c.decoder_hidden = {64, 32};
  c.decoder_injection = cm::CovariateInjection::every_layer;
  c.dispersion = cm::DispersionKind::gene_batch;
  c.norm = cm::Normalization::layer;
  c.activation = cm::Activation::elu;
  std::string dot = cp::architecture_dot(c);
  EXPECT_TRUE(contains(node_of(dot, "encoder.layers.0"), "Linear 300+2→128 · LayerNorm · ELU"));
  EXPECT_TRUE(contains(node_of(dot, "library_encoder.layers.0"), "Linear 300+2→128"));
  EXPECT_TRUE(contains(node_of(dot, "library_mean"), "Linear 128→1"));
  EXPECT_TRUE(contains(node_of(dot, "library_prior"), "per batch (2)"));
  EXPECT_TRUE(has_edge(dot, "batches", "library_encoder.layers.0"));
  EXPECT_TRUE(contains(node_of(dot, "decoder.layers.0"), "Linear 10+2→64"));
  EXPECT_TRUE(contains(node_of(dot, "decoder.layers.1"), "Linear 64+2→32"));  // every layer
  EXPECT_TRUE(has_edge(dot, "batches", "decoder.layers.1"));
  EXPECT_TRUE(contains(node_of(dot, "mean_head"), "Linear 32→300"));
  EXPECT_TRUE(contains(node_of(dot, "log_dispersion"), "2 × 300"));
  EXPECT_TRUE(has_edge(dot, "batches", "log_dispersion"));

  // First-layer injection only: the second decoder layer sees no covariates.
  c.decoder_injection = cm::CovariateInjection::first_layer;
  dot = cp::architecture_dot(c);
  EXPECT_TRUE(contains(node_of(dot, "decoder.layers.1"), "Linear 64→32"));
  EXPECT_FALSE(has_edge(dot, "batches", "decoder.layers.1"));

  // No hidden layers: the heads read the input and the covariates directly.
  cm::ModelConfig lin = preset_config(Preset::scvi, 100, 3, 0);
  lin.encoder_hidden.clear();
  lin.decoder_hidden.clear();
  lin.likelihood = cm::LikelihoodKind::gaussian;
  lin.library = cm::LibraryKind::none;
  lin.dispersion = cm::DispersionKind::cell;
  dot = cp::architecture_dot(lin);
  EXPECT_EQ(count_nodes(dot, "encoder.layers."), 0);
  EXPECT_TRUE(contains(node_of(dot, "z_mean"), "Linear 100+3→10"));
  EXPECT_TRUE(has_edge(dot, "labels", "z_mean"));
  EXPECT_TRUE(contains(node_of(dot, "mean_head"), "Linear 10+3→100"));
  EXPECT_TRUE(contains(node_of(dot, "log_scale"), "Linear 10+3→100"));
  EXPECT_TRUE(has_edge(dot, "z", "log_scale"));
  EXPECT_TRUE(contains(node_of(dot, "likelihood"), "Gaussian"));

  // Per-cell NB dispersion is a decoder head.
  cm::ModelConfig nb = preset_config(Preset::scvi, 100);
  nb.likelihood = cm::LikelihoodKind::nb;
  nb.dispersion = cm::DispersionKind::cell;
  dot = cp::architecture_dot(nb);
  EXPECT_TRUE(contains(node_of(dot, "dispersion_head"), "Linear 128→100 · exp"));
  EXPECT_FALSE(has_node(dot, "log_dispersion"));
}

TEST(ArchitectureDot, NamesAndTitleAreEscaped) {
  using cellvae::pipeline::Preset;
  cp::ArchitectureOptions o;
  o.title = "my \"model\" <1> & \\ more";
  o.covariates.label_key = "cell<type>";
  o.covariates.labels = {"B & T", "\"NK\"", "<mono>", "a\\b", "e", "f", "g", "h"};
  o.max_category_names = 3;
  const std::string dot = cp::architecture_dot(preset_config(Preset::scvi, 50, 8), o);
  const std::string labels = node_of(dot, "labels");
  EXPECT_TRUE(contains(labels, "cell&lt;type&gt;")) << labels;
  EXPECT_TRUE(contains(labels, "B &amp; T, &quot;NK&quot;, &lt;mono&gt;, … and 5 more")) << labels;
  EXPECT_FALSE(contains(dot, "<mono>"));
  EXPECT_TRUE(contains(dot, "my &quot;model&quot; &lt;1&gt; &amp; \\ more"));
  // Graphviz reads it, and the SVG shows the names as text.
  const std::string svg = cp::render_dot(dot, cp::ImageFormat::svg);
  EXPECT_TRUE(contains(svg, "cell&lt;type&gt;")) << svg.substr(0, 2000);
  EXPECT_TRUE(contains(svg, "&lt;mono&gt;"));
}

TEST(ArchitectureDot, RankdirAndInvalidConfig) {
  using cellvae::pipeline::Preset;
  cp::ArchitectureOptions o;
  o.rankdir = cp::RankDir::left_right;
  EXPECT_TRUE(contains(cp::architecture_dot(preset_config(Preset::scvi, 10), o), "rankdir=LR"));
  EXPECT_EQ(cp::parse_rank_dir("lr"), cp::RankDir::left_right);
  EXPECT_EQ(cp::parse_rank_dir("TB"), cp::RankDir::top_bottom);
  EXPECT_TRUE(contains(cvt::error_of([] { cp::parse_rank_dir("XY"); }), "TB, LR"));
  cm::ModelConfig bad = preset_config(Preset::scvi, 10);
  bad.latent_dim = 0;
  EXPECT_TRUE(contains(cvt::error_of([&] { cp::architecture_dot(bad); }), "latent"));
}

TEST(ArchitectureColors, DefaultsFlagAndErrors) {
  using cellvae::pipeline::Preset;
  const cm::ModelConfig c = preset_config(Preset::scvi, 20, 2, 2);
  const std::string dot = cp::architecture_dot(c);
  EXPECT_TRUE(contains(node_of(dot, "encoder.layers.0"), "fillcolor=\"#FF6347\""));  // tomato
  EXPECT_TRUE(contains(node_of(dot, "decoder.layers.0"), "fillcolor=\"#98FB98\""));
  EXPECT_TRUE(contains(node_of(dot, "labels"), "fillcolor=\"#BEBEBE\""));

  cp::ArchitectureOptions o;
  o.colors = cp::parse_role_colors(" encoder=#112233 , decoder=#AABBCCDD,");
  EXPECT_EQ(o.colors.encoder, "#112233");
  EXPECT_EQ(o.colors.decoder, "#AABBCCDD");
  EXPECT_EQ(o.colors.mean, cp::RoleColors{}.mean);
  const std::string recoloured = cp::architecture_dot(c, o);
  EXPECT_TRUE(contains(node_of(recoloured, "encoder.layers.0"), "fillcolor=\"#112233\""));
  // Dark fills get white text.
  EXPECT_TRUE(contains(node_of(recoloured, "encoder.layers.0"), "fontcolor=\"white\""));
  EXPECT_FALSE(contains(node_of(recoloured, "decoder.layers.0"), "fontcolor"));

  std::string msg = cvt::error_of([] { cp::parse_role_colors("encodr=#112233"); });
  EXPECT_TRUE(contains(msg, "encodr")) << msg;
  EXPECT_TRUE(contains(msg, "condition")) << msg;  // lists the roles
  msg = cvt::error_of([] { cp::parse_role_colors("encoder=blue"); });
  EXPECT_TRUE(contains(msg, "'blue'")) << msg;
  EXPECT_TRUE(contains(msg, "encoder")) << msg;
  msg = cvt::error_of([] { cp::parse_role_colors("encoder=#12345"); });
  EXPECT_TRUE(contains(msg, "#12345")) << msg;
  msg = cvt::error_of([] { cp::parse_role_colors("encoder"); });
  EXPECT_TRUE(contains(msg, "ROLE=#RRGGBB")) << msg;
  // A colour set in code is checked too.
  cp::ArchitectureOptions bad;
  bad.colors.prior = "purple";
  msg = cvt::error_of([&] { cp::architecture_dot(c, bad); });
  EXPECT_TRUE(contains(msg, "prior")) << msg;
  EXPECT_TRUE(contains(msg, "purple")) << msg;
}

TEST(RenderDot, EachFormatHasItsSignature) {
  using cellvae::pipeline::Preset;
  cvt::ScratchDir dir;
  const std::string dot = cp::architecture_dot(preset_config(Preset::scvi, 1300, 3, 2));
  for (auto format : {cp::ImageFormat::svg, cp::ImageFormat::png, cp::ImageFormat::pdf}) {
    const std::string ext(cp::to_string(format));
    const std::string bytes = cp::render_dot(dot, format);
    EXPECT_GT(bytes.size(), 2000u) << ext;
    EXPECT_TRUE(cvt::has_magic(write_bytes(dir, "a." + ext, bytes), ext)) << ext;
  }
  const std::string svg = cp::render_dot(dot, cp::ImageFormat::svg);
  EXPECT_TRUE(contains(svg, "Linear 1300+3→128")) << svg.substr(0, 3000);
}

TEST(RenderDot, PngShowsTheNodesInTheirColours) {
  using cellvae::pipeline::Preset;
  cvt::ScratchDir dir;
  const cm::ModelConfig c = preset_config(Preset::scvi, 1300, 3, 2);
  cvt::DecodedPng png(
      write_bytes(dir, "a.png", cp::render_dot(cp::architecture_dot(c), cp::ImageFormat::png)));
  ASSERT_TRUE(png.ok());
  EXPECT_GT(png.distinct_colors(), 100u);  // antialiased text and fills
  EXPECT_GT(png.ink(0, 0, png.width(), png.height()),
            static_cast<std::size_t>(png.width()) * png.height() / 5);
  EXPECT_GT(pixels_near(png, 0xFF6347), 2000u);  // encoder: tomato
  EXPECT_GT(pixels_near(png, 0x98FB98), 2000u);  // decoder: palegreen
  EXPECT_EQ(pixels_near(png, 0x0000FF, 2), 0u);

  cp::ArchitectureOptions o;
  o.colors = cp::parse_role_colors("encoder=#0000FF");
  cvt::DecodedPng blue(
      write_bytes(dir, "b.png", cp::render_dot(cp::architecture_dot(c, o), cp::ImageFormat::png)));
  ASSERT_TRUE(blue.ok());
  EXPECT_GT(pixels_near(blue, 0x0000FF, 2), 2000u);
  EXPECT_EQ(pixels_near(blue, 0xFF6347, 2), 0u);
}

TEST(RenderDot, PngIs144DpiUnlessTheDotSaysOtherwise) {
  cvt::ScratchDir dir;
  const std::string dot = "digraph { a -> b }";
  cvt::DecodedPng hi(write_bytes(dir, "hi.png", cp::render_dot(dot, cp::ImageFormat::png)));
  cvt::DecodedPng lo(write_bytes(
      dir, "lo.png", cp::render_dot("digraph { dpi=72; a -> b }", cp::ImageFormat::png)));
  ASSERT_TRUE(hi.ok() && lo.ok());
  EXPECT_NEAR(static_cast<double>(hi.width()) / lo.width(), 2.0, 0.1);
}

TEST(RenderDot, InvalidDotIsAnInputErrorWithGraphvizsMessage) {
  std::string msg = cvt::error_of([] { cp::render_dot("digraph { a -> ", cp::ImageFormat::svg); });
  EXPECT_TRUE(contains(msg, "syntax error")) << msg;
  msg = cvt::error_of([] { cp::render_dot("", cp::ImageFormat::png); });
  EXPECT_TRUE(contains(msg, "DOT")) << msg;
  // Graphviz's parser recovers: a good graph after a bad one still renders.
  EXPECT_TRUE(contains(cp::render_dot("digraph { x -> y }", cp::ImageFormat::svg), "<svg"));
}
