// Generating from an ensemble: several models fitted to the same data with different seeds,
// each drawing an even share of the new cells. Why: each fit has its own small departures from
// the data (which genes' means, which states it over- or under-fills); they differ between
// seeds, so the pooled cells are closer to the real distribution than any one model's. On
// kang_pbmc (issue 4's protocol, docs/models.md) the augmentation setting scores a
// real-vs-generated random-forest AUC of 0.546 with three models pooled and 0.530 with five,
// against 0.564 for one.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cellvae/generate/cell_generator.hpp"
#include "cellvae/generate/generate_options.hpp"
#include "cellvae/pipeline/model_dir.hpp"

namespace cellvae::generate {

/// The options of each of `members` (>= 1) models: n_cells split evenly (the first n mod K
/// members draw one more); exact label counts split per label the same way, the odd cells of
/// successive labels going to successive members so that member totals differ by at most one;
/// member k's seed is options.seed + k. Members may get 0 cells when n_cells < members (the
/// caller skips them). Everything else is copied.
std::vector<GenerateOptions> ensemble_member_options(const GenerateOptions& options,
                                                     std::size_t members);

/// Throws InputError unless every model draws cells of the same kind as models[0]: the same
/// genes in the same order, the same label key and categories, the same batch key and
/// categories, and the same likelihood. The message names the differing model's path
/// (`paths[i]`) and what differs. Sizes must match.
void check_ensemble(const std::vector<const pipeline::TrainedModel*>& models,
                    const std::vector<std::string>& paths);

/// The generators of an ensemble, ready for pipeline::write_generated.
struct Ensemble {
  std::vector<std::unique_ptr<CellGenerator>> owned;
  std::vector<CellGenerator*> generators;  ///< members with cells, in order
  std::vector<std::string> names;          ///< one per generator, unique (a repeat gets " (k)")
};

/// check_ensemble, then one CellGenerator per model with its ensemble_member_options share
/// (members with no cells left out). A single model gives one generator with `options`
/// unchanged. The models must outlive the result. `from`: as CellGenerator (one model only;
/// InputError for several, naming --sampler posterior).
Ensemble make_ensemble(const std::vector<const pipeline::TrainedModel*>& models,
                       const std::vector<std::string>& names, const GenerateOptions& options,
                       const data::CellData* from = nullptr);

/// What was done, for outputs and logs: one generator's provenance() as it is, or
/// {"members": [each generator's provenance]} for several.
nlohmann::json provenance_of(const std::vector<CellGenerator*>& generators);

}  // namespace cellvae::generate
