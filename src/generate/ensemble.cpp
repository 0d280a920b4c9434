#include "cellvae/generate/ensemble.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "cellvae/error.hpp"
#include "cellvae/model/likelihood_kind.hpp"

namespace cellvae::generate {
namespace {

// "key (a, b, c)" or "none": how an encoded obs column reads in an error message.
std::string describe(const std::optional<EncodedColumn>& column) {
  if (!column) return "none";
  std::string s = "'" + column->key + "' (";
  for (std::size_t i = 0; i < column->encoder.categories.size(); ++i)
    s += (i ? ", " : "") + column->encoder.categories[i];
  return s + ")";
}

bool same(const std::optional<EncodedColumn>& a, const std::optional<EncodedColumn>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->key == b->key && a->encoder.categories == b->encoder.categories);
}

}  // namespace

std::vector<GenerateOptions> ensemble_member_options(const GenerateOptions& options,
                                                     std::size_t members) {
  if (members == 0) throw std::invalid_argument("ensemble_member_options: no members");
  const auto k = static_cast<std::int64_t>(members);
  std::vector<GenerateOptions> out(members, options);
  for (std::size_t m = 0; m < members; ++m) {
    out[m].seed = options.seed + m;
    const auto mi = static_cast<std::int64_t>(m);
    out[m].n_cells = options.n_cells / k + (mi < options.n_cells % k ? 1 : 0);
  }
  if (options.label_counts.empty()) return out;
  for (auto& o : out) {
    o.n_cells = 0;
    o.label_counts.clear();
  }
  std::int64_t next = 0;  // the member the next odd cell goes to
  for (const auto& [label, count] : options.label_counts) {
    const std::int64_t odd = count % k;
    for (std::int64_t m = 0; m < k; ++m) {
      const std::int64_t extra = ((m - next + k) % k) < odd ? 1 : 0;
      const std::int64_t c = count / k + extra;
      out[static_cast<std::size_t>(m)].label_counts.emplace_back(label, c);
      out[static_cast<std::size_t>(m)].n_cells += c;
    }
    next = (next + odd) % k;
  }
  return out;
}

void check_ensemble(const std::vector<const pipeline::TrainedModel*>& models,
                    const std::vector<std::string>& paths) {
  if (models.size() != paths.size())
    throw std::invalid_argument("check_ensemble: one path per model");
  if (models.empty()) return;
  const pipeline::TrainedModel& first = *models[0];
  for (std::size_t i = 1; i < models.size(); ++i) {
    const pipeline::TrainedModel& m = *models[i];
    const std::string where = "ensemble: " + paths[i] + " does not match " + paths[0] + ": ";
    const auto& g0 = first.preprocess.genes;
    const auto& g = m.preprocess.genes;
    if (g != g0) {
      std::size_t j = 0;
      while (j < g.size() && j < g0.size() && g[j] == g0[j]) ++j;
      throw InputError(where + "its genes differ (" + std::to_string(g.size()) + " against " +
                       std::to_string(g0.size()) + ", first difference at gene " +
                       std::to_string(j + 1) + "); fit the models on the same data and genes");
    }
    if (!same(m.preprocess.labels, first.preprocess.labels))
      throw InputError(where + "labels " + describe(m.preprocess.labels) + " against " +
                       describe(first.preprocess.labels));
    if (!same(m.preprocess.batches, first.preprocess.batches))
      throw InputError(where + "batches " + describe(m.preprocess.batches) + " against " +
                       describe(first.preprocess.batches));
    const auto l = m.options.model.likelihood, l0 = first.options.model.likelihood;
    if (l != l0)
      throw InputError(where + "likelihood " + std::string(model::to_string(l)) + " against " +
                       std::string(model::to_string(l0)));
  }
}

Ensemble make_ensemble(const std::vector<const pipeline::TrainedModel*>& models,
                       const std::vector<std::string>& names, const GenerateOptions& options,
                       const data::CellData* from) {
  if (models.empty()) throw std::invalid_argument("make_ensemble: no model");
  check_ensemble(models, names);
  if (models.size() > 1 && (from != nullptr || options.sampler == SamplerKind::posterior))
    throw InputError(
        "--sampler posterior draws around given cells with one model; give a single model "
        "(got " +
        std::to_string(models.size()) + ")");
  Ensemble e;
  const std::vector<GenerateOptions> shares = ensemble_member_options(options, models.size());
  for (std::size_t m = 0; m < models.size(); ++m) {
    if (shares[m].n_cells == 0) continue;
    e.owned.push_back(std::make_unique<CellGenerator>(*models[m], shares[m], from));
    e.generators.push_back(e.owned.back().get());
    // Names are categories of the output: a model given twice is told apart by its position.
    std::string name = names[m];
    if (std::find(e.names.begin(), e.names.end(), name) != e.names.end())
      name += " (" + std::to_string(m + 1) + ")";
    e.names.push_back(name);
  }
  return e;
}

nlohmann::json provenance_of(const std::vector<CellGenerator*>& generators) {
  if (generators.size() == 1) return generators.front()->provenance();
  nlohmann::json members = nlohmann::json::array();
  for (const CellGenerator* g : generators) members.push_back(g->provenance());
  return nlohmann::json{{"members", members}};
}

}  // namespace cellvae::generate
