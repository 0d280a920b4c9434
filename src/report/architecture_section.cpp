// The architecture section: the diagram of the model's layers, or a table of them.
#include <string>

#include "cellvae/error.hpp"
#include "cellvae/model/model_config.hpp"
#include "cellvae/plot/architecture.hpp"
#include "report_sections.hpp"

namespace cellvae::report::detail {

namespace {

std::string widths(const std::vector<std::int64_t>& hidden) {
  if (hidden.empty()) return "none (linear)";
  std::string s;
  for (const auto w : hidden) s += (s.empty() ? "" : " → ") + std::to_string(w);
  return s;
}

/// What the one-hot covariates add to a layer's input, e.g. " + 3 labels + 2 batches".
std::string covariates(const model::ModelConfig& c, bool encoder) {
  std::string s;
  if (c.n_labels > 0 && (!encoder || c.labels_in_encoder))
    s += " + " + std::to_string(c.n_labels) + " labels";
  if (c.n_batches > 0 && (!encoder || c.batches_in_encoder))
    s += " + " + std::to_string(c.n_batches) + " batches";
  return s;
}

/// The layers in words, for when the diagram cannot be drawn.
FieldTable layer_table(const model::ModelConfig& c) {
  const std::string input =
      c.input == model::InputKind::log1p ? "log(1 + counts)" : "the values as given (scaled)";
  FieldTable t;
  t.caption = "Layers";
  t.rows = {
      {"input", std::to_string(c.n_genes) + " genes; the encoder sees " + input},
      {"encoder", std::to_string(c.n_genes) + covariates(c, true) + " → " +
                      widths(c.encoder_hidden) + " (" +
                      std::string(model::to_string(c.activation)) + ", " +
                      std::string(model::to_string(c.norm)) + " normalisation, dropout " +
                      format_number(c.dropout) + ")"},
      {"latent z", std::to_string(c.latent_dim) + " dimensions; prior " +
                       (c.prior == model::PriorKind::gaussian_mixture
                            ? "a mixture of " + std::to_string(c.components) + " Gaussians" +
                                  (c.learn_component_weights ? " (learned weights)" : "")
                            : std::string("N(0, I)"))},
      {"decoder", std::to_string(c.latent_dim) + covariates(c, false) + " → " +
                      widths(c.decoder_hidden) + " → " + std::to_string(c.n_genes) +
                      " genes (covariates: " + std::string(model::to_string(c.decoder_injection)) +
                      ")"},
      {"library size", std::string(model::to_string(c.library))},
      {"likelihood", std::string(model::to_string(c.likelihood)) + ", dispersion per " +
                         std::string(model::to_string(c.dispersion))},
  };
  return t;
}

}  // namespace

Section architecture_section(const plot::ModelArchitecture& architecture) {
  Section s;
  s.id = "architecture";
  s.title = "Architecture";
  s.summary =
      "The encoder maps a cell's expression to a posterior over the latent z; the decoder maps "
      "z (with the cell's covariates) to the parameters of the count likelihood. New cells are "
      "decoded from z drawn for them.";
  plot::ArchitectureOptions options;
  options.covariates = architecture.covariates;
  try {
    const std::string svg = plot::render_dot(plot::architecture_dot(architecture.config, options),
                                             plot::ImageFormat::svg);
    s.images.push_back({"image/svg+xml", svg,
                        "The model's layers, from the data x (top) to the likelihood p(x|z)"});
  } catch (const InputError& e) {
    s.notes.push_back(std::string("No diagram (") + e.what() + "); the layers in words:");
    s.tables.push_back(layer_table(architecture.config));
  }
  return s;
}

}  // namespace cellvae::report::detail
