// A cellvae model's architecture as a diagram (`cellvae plot architecture`), after VAExprs's
// plot_vae: one node per layer that the module built from a ModelConfig really has (see
// model/vae.hpp and model/mlp.hpp), labelled with what it computes and its shape ("Linear
// 1300→128 · BatchNorm · ReLU · Dropout 0.1"), coloured by its role, and laid out by
// Graphviz's dot.
//
// Two steps, so that other front ends (the HTML report) can take either: architecture_dot
// writes Graphviz DOT text, render_dot lays DOT out and renders it to SVG, PNG or PDF bytes.
// Nothing here prints or exits; Graphviz's own warnings are captured, not printed.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cellvae/model/model_config.hpp"
#include "cellvae/pipeline/fit_options.hpp"
#include "cellvae/plot/figure.hpp"

namespace cellvae::plot {

/// What a node of the diagram stands for. Each role has one fill colour (RoleColors).
enum class NodeRole {
  input,      ///< the data x and the encoder's input transform (log1p)
  encoder,    ///< hidden layers of the encoder of z
  mean,       ///< the posterior mean head μ of z
  variance,   ///< the posterior log-variance head log σ² of z
  latent,     ///< the sampled z, and q(y|x) of a mixture prior (y is latent too)
  prior,      ///< p(z) (normal or mixture) and a latent library's prior
  library,    ///< the library size ℓ: observed, or the branch that infers it
  decoder,    ///< hidden layers of the decoder
  output,     ///< the likelihood's parameter heads and the likelihood p(x|z) itself
  condition,  ///< one-hot labels (CVAE) and batches (scVI's s)
};

/// "input", "encoder", "mean", "variance", "latent", "prior", "library", "decoder", "output",
/// "condition".
std::string_view to_string(NodeRole role);
/// Inverse of to_string; throws InputError "unknown role 'x'; known: input, encoder, ...".
NodeRole parse_node_role(std::string_view name);

/// Fill colour of each role, as "#RRGGBB" or "#RRGGBBAA" (hex digits of either case; colour
/// names are not accepted, so that every value means the same in Graphviz, SVG and HTML).
/// The defaults are VAExprs's plot_vae colours where it has the role (encoder tomato, mean
/// orange, variance ("stddev") lavender, latent lightblue, decoder palegreen, condition gray)
/// and light colours of other hues for the roles only cellvae has. Node text is drawn white
/// on dark fills, black otherwise.
struct RoleColors {
  std::string input = "#F5F5F5";      ///< whitesmoke
  std::string encoder = "#FF6347";    ///< tomato
  std::string mean = "#FFA500";       ///< orange
  std::string variance = "#E6E6FA";   ///< lavender
  std::string latent = "#ADD8E6";     ///< lightblue
  std::string prior = "#D8BFD8";      ///< thistle
  std::string library = "#F0E68C";    ///< khaki
  std::string decoder = "#98FB98";    ///< palegreen
  std::string output = "#FFB6C1";     ///< lightpink
  std::string condition = "#BEBEBE";  ///< gray
};

/// The colour of `role` in `colors` (the field of that name).
const std::string& role_color(const RoleColors& colors, NodeRole role);
std::string& role_color(RoleColors& colors, NodeRole role);

/// `base` with the colours of a comma-separated list "role=#RRGGBB,role=#RRGGBB" replaced
/// (the `--colors` flag; spaces around items are ignored, an empty spec changes nothing).
/// Throws InputError naming the flag and the item for an item without '=', an unknown role
/// (listing the roles) or a value that is not a hex colour.
RoleColors parse_role_colors(std::string_view spec, RoleColors base = {});

/// Direction of the layout: the data flow from top to bottom, or from left to right.
enum class RankDir { top_bottom, left_right };
/// "TB", "LR" (Graphviz's rankdir values).
std::string_view to_string(RankDir dir);
/// Inverse of to_string, case-insensitive ("tb" works too); throws InputError listing TB, LR.
RankDir parse_rank_dir(std::string_view name);

/// Names shown in the condition nodes: the obs columns the model's labels and batches came
/// from and their categories in code order (a model directory's preprocess.json, see
/// read_model_architecture). All may be empty: the nodes then say "labels" / "batches" and
/// give only the number of categories. Names of covariates the model does not use (labels of
/// a GMVAE, which are not covariates) are ignored.
struct CovariateNames {
  std::string label_key;
  std::string batch_key;
  std::vector<std::string> labels;
  std::vector<std::string> batches;
};

struct ArchitectureOptions {
  RoleColors colors;
  /// Drawn above the diagram; "" for none.
  std::string title;
  RankDir rankdir = RankDir::top_bottom;
  CovariateNames covariates;
  /// Categories listed by name in a condition node, the rest as "… and N more". >= 0.
  std::size_t max_category_names = 6;
  /// Font family of every text (fontconfig picks a fallback when it is not installed).
  std::string font = "DejaVu Sans";
};

/// Graphviz DOT text of the model's layers, for a valid config (model::validate; throws its
/// InputError otherwise, and InputError naming the role for a colour that is not "#RRGGBB" or
/// "#RRGGBBAA"). Node ids are the module's registered names ("encoder.layers.0", "z_mean",
/// "z_log_variance", "component_logits", "library_encoder.layers.0", "library_mean",
/// "decoder.layers.0", "mean_head", "dispersion_head" or "log_dispersion", "zero_head",
/// "log_scale"), plus "x", "log1p", "labels", "batches", "z", "prior", "library",
/// "library_prior" and "likelihood" for what is not a layer; each node has a bold title and
/// one or two lines of detail. Every text is escaped (HTML-like labels), so label and category
/// names can hold any characters. The same config and options give the same text.
std::string architecture_dot(const model::ModelConfig& config,
                             const ArchitectureOptions& options = {});

/// Lays DOT text out with Graphviz's dot engine and renders it: SVG text (Graphviz's own SVG,
/// text kept as text), or PNG (144 dpi, i.e. kPngScale pixels per point, unless the DOT sets
/// dpi) or PDF bytes drawn with Cairo. Graphviz's plugins are those its configuration lists
/// (gvContext()); where that finds no dot layout or no cairo renderer (a Graphviz whose plugin
/// configuration was never generated), the core, dot-layout and pango plugins are loaded
/// directly from the plugin folder next to libgvc. Calls are serialised (Graphviz keeps
/// global state). Throws InputError with Graphviz's message on invalid DOT, and naming the
/// format when no plugin can render it ("choose .svg" where only PNG/PDF are missing).
std::string render_dot(const std::string& dot, ImageFormat format);

/// What a model directory says about its architecture, read from model.json and
/// preprocess.json without loading the weights (fast, and torch-free in what it reads).
struct ModelArchitecture {
  model::ModelConfig config;               ///< with n_genes, n_labels, n_batches resolved
  std::optional<pipeline::Preset> preset;  ///< the preset the fit started from, if any
  CovariateNames covariates;               ///< label/batch keys and categories
};

/// Reads MODEL_DIR/model.json (the "fit" options' model config and preset) and
/// MODEL_DIR/preprocess.json (label and batch keys and categories). Throws InputError naming
/// the directory and the missing or invalid file ("... is not a cellvae model directory: no
/// model.json").
ModelArchitecture read_model_architecture(const std::filesystem::path& model_dir);

}  // namespace cellvae::plot
