// The architecture diagram's DOT text, built from a ModelConfig the way VaeImpl builds its
// modules (src/model/vae.cpp, src/model/mlp.cpp), and the model-directory reader behind it.
// Rendering is in graphviz_render.cpp.
#include "cellvae/plot/architecture.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"
#include "cellvae/preprocess/preprocess_state.hpp"
#include "cellvae/report/html.hpp"

namespace cellvae::plot {

namespace {

constexpr NameTable<NodeRole, 10> kRoleNames{{
    {NodeRole::input, "input"},
    {NodeRole::encoder, "encoder"},
    {NodeRole::mean, "mean"},
    {NodeRole::variance, "variance"},
    {NodeRole::latent, "latent"},
    {NodeRole::prior, "prior"},
    {NodeRole::library, "library"},
    {NodeRole::decoder, "decoder"},
    {NodeRole::output, "output"},
    {NodeRole::condition, "condition"},
}};

constexpr NameTable<RankDir, 2> kRankDirNames{{
    {RankDir::top_bottom, "TB"},
    {RankDir::left_right, "LR"},
}};

bool is_hex_color(std::string_view s) {
  if (s.size() != 7 && s.size() != 9) return false;
  if (s[0] != '#') return false;
  return std::all_of(s.begin() + 1, s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view to_string(NodeRole role) { return name_of(kRoleNames, role); }
NodeRole parse_node_role(std::string_view name) { return parse_name(kRoleNames, name, "role"); }

std::string_view to_string(RankDir dir) { return name_of(kRankDirNames, dir); }
RankDir parse_rank_dir(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return parse_name(kRankDirNames, upper, "rankdir");
}

std::string& role_color(RoleColors& colors, NodeRole role) {
  switch (role) {
    case NodeRole::input:
      return colors.input;
    case NodeRole::encoder:
      return colors.encoder;
    case NodeRole::mean:
      return colors.mean;
    case NodeRole::variance:
      return colors.variance;
    case NodeRole::latent:
      return colors.latent;
    case NodeRole::prior:
      return colors.prior;
    case NodeRole::library:
      return colors.library;
    case NodeRole::decoder:
      return colors.decoder;
    case NodeRole::output:
      return colors.output;
    case NodeRole::condition:
      return colors.condition;
  }
  return colors.input;
}

const std::string& role_color(const RoleColors& colors, NodeRole role) {
  return role_color(const_cast<RoleColors&>(colors), role);
}

RoleColors parse_role_colors(std::string_view spec, RoleColors base) {
  while (!spec.empty()) {
    const std::size_t comma = spec.find(',');
    const std::string_view item = trim(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      throw InputError("--colors: '" + std::string(item) + "' is not ROLE=#RRGGBB");
    const std::string_view role_name = trim(item.substr(0, eq));
    const std::string_view value = trim(item.substr(eq + 1));
    NodeRole role;
    try {
      role = parse_node_role(role_name);
    } catch (const InputError& e) {
      throw InputError(std::string("--colors: ") + e.what());
    }
    if (!is_hex_color(value))
      throw InputError("--colors: '" + std::string(value) + "' for role '" +
                       std::string(role_name) + "' is not a colour; give #RRGGBB or #RRGGBBAA");
    role_color(base, role) = std::string(value);
  }
  return base;
}

// ---- the diagram --------------------------------------------------------------------------------

namespace {

/// Text for an HTML-like Graphviz label: escaped as HTML (Graphviz reads the same entities),
/// newlines as line breaks.
std::string html_escape(std::string_view s) {
  std::string out;
  for (std::size_t start = 0;;) {
    const std::size_t end = s.find('\n', start);
    out += report::html_escape(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    out += "<BR/>";
    start = end + 1;
  }
}

/// A double-quoted DOT string (ids and plain attributes).
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

/// Relative luminance of "#RRGGBB[AA]" (sRGB weights, no gamma: only light vs dark matters).
double luminance(const std::string& hex) {
  auto channel = [&](std::size_t at) { return std::stoi(hex.substr(at, 2), nullptr, 16) / 255.0; };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

std::string num(std::int64_t v) { return std::to_string(v); }

const char* norm_name(model::Normalization n) {
  switch (n) {
    case model::Normalization::batch:
      return "BatchNorm";
    case model::Normalization::layer:
      return "LayerNorm";
    case model::Normalization::none:
      break;
  }
  return "";
}

std::string activation_name(model::Activation a) {
  switch (a) {
    case model::Activation::relu:
      return "ReLU";
    case model::Activation::elu:
      return "ELU";
    case model::Activation::leaky_relu:
      return "LeakyReLU " + format_number(model::kLeakyReluSlope);
    case model::Activation::tanh:
      return "Tanh";
    case model::Activation::sigmoid:
      return "Sigmoid";
    case model::Activation::softplus:
      return "Softplus";
    case model::Activation::linear:
      break;
  }
  return "";
}

/// The likelihood's short name and its full name.
std::pair<const char*, const char*> likelihood_names(model::LikelihoodKind k) {
  switch (k) {
    case model::LikelihoodKind::bernoulli:
      return {"Bernoulli", "binary cross-entropy"};
    case model::LikelihoodKind::gaussian:
      return {"Gaussian", "normal"};
    case model::LikelihoodKind::poisson:
      return {"Poisson", "Poisson counts"};
    case model::LikelihoodKind::nb:
      return {"NB", "negative binomial"};
    case model::LikelihoodKind::zip:
      return {"ZIP", "zero-inflated Poisson"};
    case model::LikelihoodKind::zinb:
      return {"ZINB", "zero-inflated negative binomial"};
  }
  return {"?", "?"};
}

struct Node {
  std::string id;
  NodeRole role;
  std::string title;
  std::vector<std::string> details;
};

struct Edge {
  std::string from, to;
  std::string label;
  bool dashed = false;     ///< a relation, not data flow (KL to the prior, a table lookup)
  bool invisible = false;  ///< only keeps a parameter node next to the layers it belongs to
};

/// One of the model's MLPs (encoder, library encoder, decoder) as VaeImpl configures it.
struct MlpSpec {
  std::string id;     ///< registered module name: "encoder", "library_encoder", "decoder"
  std::string title;  ///< "encoder", "library encoder", "decoder"
  NodeRole role;
  std::int64_t input_dim = 0;
  std::vector<std::int64_t> hidden;
  double dropout = 0;
  model::CovariateInjection injection = model::CovariateInjection::first_layer;
};

class DiagramBuilder {
 public:
  DiagramBuilder(const model::ModelConfig& c, const ArchitectureOptions& o) : c_(c), o_(o) {}

  std::string build() {
    model::validate(c_);
    for (NodeRole role : {NodeRole::input, NodeRole::encoder, NodeRole::mean, NodeRole::variance,
                          NodeRole::latent, NodeRole::prior, NodeRole::library, NodeRole::decoder,
                          NodeRole::output, NodeRole::condition})
      if (!is_hex_color(role_color(o_.colors, role)))
        throw InputError("architecture colour of role '" + std::string(to_string(role)) + "' is '" +
                         role_color(o_.colors, role) +
                         "', not a colour; give #RRGGBB or #RRGGBBAA");
    add_input();
    add_covariates();
    add_encoder();
    add_library();
    add_decoder();
    return dot();
  }

 private:
  const model::ModelConfig& c_;
  const ArchitectureOptions& o_;
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  std::vector<std::vector<std::string>> same_rank_;
  std::string encoder_input_;  // "log1p" or "x"
  std::vector<std::string> encoder_covariates_, decoder_covariates_;
  std::int64_t encoder_covariate_dim_ = 0, decoder_covariate_dim_ = 0;

  void node(std::string id, NodeRole role, std::string title, std::vector<std::string> details) {
    nodes_.push_back({std::move(id), role, std::move(title), std::move(details)});
  }
  void edge(std::string from, std::string to, std::string label = "") {
    edges_.push_back({std::move(from), std::move(to), std::move(label)});
  }
  void dashed(std::string from, std::string to, std::string label) {
    Edge e{std::move(from), std::move(to), std::move(label)};
    e.dashed = true;
    edges_.push_back(std::move(e));
  }
  void invisible(std::string from, std::string to) {
    Edge e{std::move(from), std::move(to), ""};
    e.invisible = true;
    edges_.push_back(std::move(e));
  }
  void edges_from(const std::vector<std::string>& sources, const std::string& to) {
    for (const auto& s : sources) edge(s, to);
  }

  void add_input() {
    if (c_.input == model::InputKind::log1p) {
      node("x", NodeRole::input, "input x", {"counts · " + num(c_.n_genes) + " genes"});
      node("log1p", NodeRole::input, "log1p", {num(c_.n_genes) + "→" + num(c_.n_genes)});
      edge("x", "log1p");
      encoder_input_ = "log1p";
    } else {
      node("x", NodeRole::input, "input x",
           {num(c_.n_genes) + " genes", "log-normalised, min-max scaled to [0, 1]"});
      encoder_input_ = "x";
    }
  }

  /// "one-hot 3" and the first category names.
  std::vector<std::string> covariate_details(std::int64_t n,
                                             const std::vector<std::string>& names) const {
    std::vector<std::string> d{"one-hot " + num(n)};
    if (names.size() != static_cast<std::size_t>(n) || o_.max_category_names == 0) return d;
    std::string list;
    const std::size_t shown = std::min(names.size(), o_.max_category_names);
    for (std::size_t i = 0; i < shown; ++i) list += (i ? ", " : "") + names[i];
    if (shown < names.size()) list += ", … and " + std::to_string(names.size() - shown) + " more";
    d.push_back(list);
    return d;
  }

  void add_covariates() {
    const CovariateNames& names = o_.covariates;
    if (c_.n_labels > 0) {
      node("labels", NodeRole::condition,
           names.label_key.empty() ? "labels" : "labels '" + names.label_key + "'",
           covariate_details(c_.n_labels, names.labels));
      if (c_.labels_in_encoder) encoder_covariates_.push_back("labels");
      decoder_covariates_.push_back("labels");
    }
    if (c_.n_batches > 0) {
      node("batches", NodeRole::condition,
           names.batch_key.empty() ? "batches" : "batches '" + names.batch_key + "'",
           covariate_details(c_.n_batches, names.batches));
      if (c_.batches_in_encoder) encoder_covariates_.push_back("batches");
      decoder_covariates_.push_back("batches");
    }
    encoder_covariate_dim_ =
        (c_.labels_in_encoder ? c_.n_labels : 0) + (c_.batches_in_encoder ? c_.n_batches : 0);
    decoder_covariate_dim_ = c_.n_labels + c_.n_batches;
  }

  /// "1300+5" when covariates are concatenated to the layer's input, else "1300".
  static std::string input_width(std::int64_t width, std::int64_t covariates) {
    return covariates > 0 ? num(width) + "+" + num(covariates) : num(width);
  }

  /// The MLP's hidden layers from `source`, the covariates entering the first (or every)
  /// one. Returns the node the heads read and the width text of the heads' input: without
  /// hidden layers the heads read the source and the covariates directly (VaeImpl's
  /// head_input_dim).
  std::pair<std::vector<std::string>, std::string> add_mlp(const MlpSpec& m,
                                                           const std::string& source,
                                                           const std::vector<std::string>& cov,
                                                           std::int64_t cov_dim) {
    if (m.hidden.empty()) {
      std::vector<std::string> feeds{source};
      feeds.insert(feeds.end(), cov.begin(), cov.end());
      return {feeds, input_width(m.input_dim, cov_dim)};
    }
    std::string previous = source;
    std::int64_t width = m.input_dim;
    for (std::size_t i = 0; i < m.hidden.size(); ++i) {
      const bool injected = i == 0 || m.injection == model::CovariateInjection::every_layer;
      std::string ops =
          "Linear " + input_width(width, injected ? cov_dim : 0) + "→" + num(m.hidden[i]);
      if (c_.norm != model::Normalization::none) ops += std::string(" · ") + norm_name(c_.norm);
      const std::string act = activation_name(c_.activation);
      if (!act.empty()) ops += " · " + act;
      if (m.dropout > 0) ops += " · Dropout " + format_number(m.dropout);
      const std::string id = m.id + ".layers." + std::to_string(i);
      node(id, m.role, m.title + " " + std::to_string(i + 1), {ops});
      edge(previous, id);
      if (injected && cov_dim > 0) edges_from(cov, id);
      previous = id;
      width = m.hidden[i];
    }
    return {{previous}, num(width)};
  }

  void add_encoder() {
    MlpSpec m{"encoder",
              "encoder",
              NodeRole::encoder,
              c_.n_genes,
              c_.encoder_hidden,
              c_.dropout,
              model::CovariateInjection::first_layer};
    const auto [feeds, width] =
        add_mlp(m, encoder_input_, encoder_covariates_, encoder_covariate_dim_);
    const std::string d = num(c_.latent_dim);
    const bool mixture = c_.prior == model::PriorKind::gaussian_mixture;
    const std::string k = num(c_.components);
    std::vector<std::string> mean{"Linear " + width + "→" + d};
    std::vector<std::string> var{"Linear " + width + "→" + d};
    if (mixture) {
      // VaeImpl adds a learned offset per component to both heads: K posteriors q(z|x, y=k).
      mean.push_back("+ component offsets → " + k + " × " + d);
      var.push_back("+ component offsets → " + k + " × " + d);
    }
    if (c_.variance_epsilon > 0)
      var.push_back("σ² = exp(·) + " + format_number(c_.variance_epsilon));
    node("z_mean", NodeRole::mean, "mean μ", mean);
    node("z_log_variance", NodeRole::variance, "log σ²", var);
    for (const auto& f : feeds) {
      edge(f, "z_mean");
      edge(f, "z_log_variance");
    }
    node("z", NodeRole::latent, "z",
         {mixture ? k + " × " + d + " · one sample per component" : d + " · sampled N(μ, σ²)"});
    edge("z_mean", "z");
    edge("z_log_variance", "z");
    if (mixture) {
      node("component_logits", NodeRole::latent, "q(y | x)",
           {"Linear " + width + "→" + k + " · softmax"});
      for (const auto& f : feeds) edge(f, "component_logits");
      node("prior", NodeRole::prior, "prior p(y) p(z | y)",
           {k + " Gaussians · means, log σ² " + k + " × " + d,
            c_.learn_component_weights ? "weights p(y) learned" : "weights p(y) uniform"});
      dashed("prior", "component_logits", "KL");
    } else {
      node("prior", NodeRole::prior, "prior p(z)", {"N(0, I) · " + d});
    }
    dashed("prior", "z", "KL");
    same_rank_.push_back({"z", "prior"});
  }

  void add_library() {
    switch (c_.library) {
      case model::LibraryKind::none:
        return;
      case model::LibraryKind::observed:
        node("library", NodeRole::library, "library ℓ", {"observed: total count of x, 1 per cell"});
        edge("x", "library");
        return;
      case model::LibraryKind::latent:
        break;
    }
    // scVI's l-encoder: the encoder's architecture again, with two heads of width 1.
    MlpSpec m{"library_encoder",
              "library encoder",
              NodeRole::library,
              c_.n_genes,
              c_.encoder_hidden,
              c_.dropout,
              model::CovariateInjection::first_layer};
    const auto [feeds, width] =
        add_mlp(m, encoder_input_, encoder_covariates_, encoder_covariate_dim_);
    node("library_mean", NodeRole::library, "mean of log ℓ", {"Linear " + width + "→1"});
    std::vector<std::string> var{"Linear " + width + "→1"};
    if (c_.variance_epsilon > 0)
      var.push_back("σ² = exp(·) + " + format_number(c_.variance_epsilon));
    node("library_log_variance", NodeRole::library, "log σ² of log ℓ", var);
    for (const auto& f : feeds) {
      edge(f, "library_mean");
      edge(f, "library_log_variance");
    }
    node("library", NodeRole::library, "library ℓ", {"log ℓ sampled N(μ, σ²), 1 per cell"});
    edge("library_mean", "library");
    edge("library_log_variance", "library");
    node("library_prior", NodeRole::prior, "prior p(log ℓ)",
         {c_.n_batches > 0 ? "normal per batch (" + num(c_.n_batches) + ")"
                           : "normal of the training cells' log library"});
    dashed("library_prior", "library", "KL");
    same_rank_.push_back({"library", "library_prior"});
  }

  /// A learned per-gene table (dispersion, Gaussian scale) as a node, or the decoder head that
  /// replaces it for per-cell dispersion.
  void add_table_or_head(const std::string& head_id, const std::string& table_id,
                         const std::string& title, const std::string& transform,
                         const std::vector<std::string>& feeds, const std::string& width) {
    const std::string g = num(c_.n_genes);
    switch (c_.dispersion) {
      case model::DispersionKind::cell:
        node(head_id, NodeRole::output, title, {"Linear " + width + "→" + g + transform});
        for (const auto& f : feeds) edge(f, head_id);
        edge(head_id, "likelihood");
        return;
      case model::DispersionKind::gene:
        node(table_id, NodeRole::output, title, {"learned per gene · " + g + transform});
        break;
      case model::DispersionKind::gene_batch:
        node(table_id, NodeRole::output, title,
             {"learned per batch and gene · " + num(c_.n_batches) + " × " + g + transform});
        dashed("batches", table_id, "row");
        break;
      case model::DispersionKind::gene_label:
        node(table_id, NodeRole::output, title,
             {"learned per label and gene · " + num(c_.n_labels) + " × " + g + transform});
        dashed("labels", table_id, "row");
        break;
    }
    // A table has no input; keep it beside the other heads rather than at the top.
    invisible(feeds.front(), table_id);
    edge(table_id, "likelihood");
  }

  void add_decoder() {
    MlpSpec m{"decoder",         "decoder", NodeRole::decoder,   c_.latent_dim,
              c_.decoder_hidden, 0.0,       c_.decoder_injection};
    const auto [feeds, width] = add_mlp(m, "z", decoder_covariates_, decoder_covariate_dim_);
    const std::string g = num(c_.n_genes);
    const auto [short_name, long_name] = likelihood_names(c_.likelihood);
    const bool counts = model::is_count_likelihood(c_.likelihood);
    const bool scaled = counts && c_.library != model::LibraryKind::none;

    std::string mean_text;
    if (c_.likelihood == model::LikelihoodKind::bernoulli) {
      node("mean_head", NodeRole::output, "probability p",
           {"Linear " + width + "→" + g + " · sigmoid"});
      mean_text = "p";
    } else if (scaled) {
      node("mean_head", NodeRole::output, "scale ρ", {"Linear " + width + "→" + g + " · softmax"});
      mean_text = "μ = ℓ · ρ";
    } else if (counts) {
      node("mean_head", NodeRole::output, "mean μ", {"Linear " + width + "→" + g + " · exp"});
      mean_text = "μ";
    } else {
      node("mean_head", NodeRole::output, "mean μ", {"Linear " + width + "→" + g});
      mean_text = "μ";
    }
    for (const auto& f : feeds) edge(f, "mean_head");
    edge("mean_head", "likelihood");
    std::string params = mean_text;
    if (model::has_dispersion(c_.likelihood)) {
      add_table_or_head("dispersion_head", "log_dispersion", "dispersion θ", " · exp", feeds,
                        width);
      params += ", θ";
    }
    if (model::is_zero_inflated(c_.likelihood)) {
      node("zero_head", NodeRole::output, "zero-inflation π",
           {"Linear " + width + "→" + g + " · logits"});
      for (const auto& f : feeds) edge(f, "zero_head");
      edge("zero_head", "likelihood");
      params += ", π";
    }
    if (c_.likelihood == model::LikelihoodKind::gaussian) {
      add_table_or_head("log_scale", "log_scale", "log σ (scale)", "", feeds, width);
      params += ", σ";
    }
    if (scaled) edge("library", "likelihood", "ℓ");
    node("likelihood", NodeRole::output, "p(x | z) · " + std::string(short_name),
         {std::string(long_name) + " (" + params + ")", g + " genes"});
  }

  std::string label(const Node& n) const {
    std::string s = "<<B>" + html_escape(n.title) + "</B>";
    for (const auto& d : n.details)
      s += "<BR/><FONT POINT-SIZE=\"9\">" + html_escape(d) + "</FONT>";
    return s + ">";
  }

  std::string dot() const {
    const std::string font = quote(o_.font);
    std::string s = "digraph cellvae_model {\n";
    s += "  graph [rankdir=" + std::string(to_string(o_.rankdir)) + ", fontname=" + font +
         ", fontsize=14, nodesep=0.25, ranksep=0.32, pad=0.2, bgcolor=\"white\"";
    if (!o_.title.empty()) s += ", labelloc=t, label=<<B>" + html_escape(o_.title) + "</B>>";
    s += "];\n";
    s += "  node [shape=box, style=\"rounded,filled\", fontname=" + font +
         ", fontsize=11, color=\"#555555\", penwidth=0.8, margin=\"0.14,0.06\"];\n";
    s += "  edge [color=\"#666666\", arrowsize=0.6, penwidth=0.9, fontname=" + font +
         ", fontsize=9, fontcolor=\"#555555\"];\n";
    for (const Node& n : nodes_) {
      const std::string& fill = role_color(o_.colors, n.role);
      s += "  " + quote(n.id) + " [label=" + label(n) + ", fillcolor=" + quote(fill);
      if (luminance(fill) < 0.45) s += ", fontcolor=\"white\"";
      s += ", tooltip=" + quote(std::string(to_string(n.role))) + "];\n";
    }
    for (const Edge& e : edges_) {
      s += "  " + quote(e.from) + " -> " + quote(e.to);
      std::vector<std::string> attrs;
      if (!e.label.empty()) attrs.push_back("label=<" + html_escape(e.label) + ">");
      if (e.dashed) {
        attrs.push_back("style=dashed");
        attrs.push_back("dir=none");
        attrs.push_back("constraint=false");
      }
      if (e.invisible) attrs.push_back("style=invis");
      if (!attrs.empty()) {
        s += " [";
        for (std::size_t i = 0; i < attrs.size(); ++i) s += (i ? ", " : "") + attrs[i];
        s += "]";
      }
      s += ";\n";
    }
    for (const auto& group : same_rank_) {
      s += "  { rank=same;";
      for (const auto& id : group) s += " " + quote(id) + ";";
      s += " }\n";
    }
    return s + "}\n";
  }
};

}  // namespace

std::string architecture_dot(const model::ModelConfig& config, const ArchitectureOptions& options) {
  return DiagramBuilder(config, options).build();
}

// ---- reading a model directory ------------------------------------------------------------------

ModelArchitecture read_model_architecture(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir))
    throw InputError(dir.string() + " is not a cellvae model directory: no such folder");
  const fs::path model_json = dir / "model.json";
  std::ifstream in(model_json);
  if (!in) throw InputError(dir.string() + " is not a cellvae model directory: no model.json");
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(model_json.string() + " is not valid JSON: " + e.what());
  }
  if (!meta.is_object() || meta.value("format", "") != "cellvae-model" || !meta.contains("fit"))
    throw InputError(model_json.string() + " is not a cellvae model description");
  ModelArchitecture out;
  const nlohmann::json& fit = meta.at("fit");
  const pipeline::FitOptions options = pipeline::apply_fit_json(pipeline::FitOptions{}, fit);
  out.config = options.model;
  if (fit.contains("preset") && fit.at("preset").is_string())
    out.preset = pipeline::parse_preset(fit.at("preset").get<std::string>());

  const fs::path state_file = dir / "preprocess.json";
  if (!fs::is_regular_file(state_file))
    throw InputError(dir.string() +
                     " is not a complete cellvae model directory: no preprocess.json");
  const PreprocessState state = read_preprocess_state(state_file);
  if (state.labels) {
    out.covariates.label_key = state.labels->key;
    out.covariates.labels = state.labels->encoder.categories;
  }
  if (state.batches) {
    out.covariates.batch_key = state.batches->key;
    out.covariates.batches = state.batches->encoder.categories;
  }
  return out;
}

}  // namespace cellvae::plot
