// The preprocessing state saved with every model: what was done to the training data, so
// that it can be redone on new data and undone on generated data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cellvae/dataset.hpp"
#include "cellvae/preprocess/category_encoder.hpp"
#include "cellvae/preprocess/filter.hpp"
#include "cellvae/preprocess/input_transform.hpp"

namespace cellvae {

/// Options of preprocess(): plain fields, as the `cellvae preprocess` command fills them.
struct PreprocessOptions {
  FilterOptions filter;  ///< cell and gene filters, applied first
  /// Number of highly variable genes to keep (Seurat v3 method on counts, see
  /// highly_variable_genes). Empty: keep every gene that passed the filters. >= 1.
  std::optional<std::int64_t> n_top_genes;
  /// Loess span of the HVG mean-variance trend, (0, 1]. Default 0.3. Used only with
  /// n_top_genes.
  double hvg_span = 0.3;
  /// obs column with batches: HVGs are selected per batch, and a batch encoder is stored
  /// (for batch-aware models). Empty: no batches.
  std::optional<std::string> batch_key;
  /// obs column with cell labels (e.g. cell type) for conditional models: a label encoder is
  /// stored. Empty: no labels.
  std::optional<std::string> label_key;
};

/// A categorical annotation and the codes given to its categories.
struct EncodedColumn {
  std::string key;          ///< obs column name
  CategoryEncoder encoder;  ///< categories in code order
};

/// Everything preprocessing decided. Serialised as JSON (preprocess_state_to_json) inside
/// every model directory and by `cellvae preprocess --state`.
struct PreprocessState {
  /// JSON format version this code writes; from_json rejects newer versions.
  static constexpr int kFormatVersion = 1;

  PreprocessOptions options;                    ///< the options used
  std::vector<std::string> genes_after_filter;  ///< gene names kept by the filters, in order
  /// The model's genes, in column order: the HVGs (in original order) when n_top_genes was
  /// set, otherwise equal to genes_after_filter.
  std::vector<std::string> genes;
  std::optional<EncodedColumn> labels;   ///< set when options.label_key was
  std::optional<EncodedColumn> batches;  ///< set when options.batch_key was
  /// Size-factor reference and min-max parameters, fitted on the training cells by
  /// fit_input_transform when the model uses the VAExprs input transform; empty until then
  /// and for models on raw counts.
  std::optional<InputTransform> input_transform;
};

/// The state as JSON: {"format": "cellvae-preprocess-state", "version": 1, "options": {...},
/// "genes_after_filter": [...], "genes": [...], "labels": null | {"key", "categories"},
/// "batches": ..., "input_transform": null | {"reference_library", "min", "max"}}.
nlohmann::json preprocess_state_to_json(const PreprocessState& state);

/// Reads what preprocess_state_to_json wrote. Throws InputError naming the missing or
/// mistyped key ("preprocessing state: missing key 'input_transform.min'"), for a newer
/// version, and for inconsistent content (genes not among genes_after_filter, min-max
/// length not equal to the gene count, repeated categories).
PreprocessState preprocess_state_from_json(const nlohmann::json& json);

/// The options alone as JSON: {"filter": {"min_cells_per_gene", "min_genes_per_cell",
/// "min_counts_per_cell", "max_counts_per_cell"}, "n_top_genes", "hvg_span", "batch_key",
/// "label_key"} (unset optionals as null). Also part of model.json.
nlohmann::json preprocess_options_to_json(const PreprocessOptions& options);
/// Reads what preprocess_options_to_json wrote (every key required); errors name the key path
/// prefixed by `context` ("model.json: missing key 'filter.hvg_span'").
PreprocessOptions preprocess_options_from_json(const nlohmann::json& json,
                                               const std::string& context);

/// Writes the JSON to a file (complete or not at all). Throws InputError if unwritable.
void write_preprocess_state(const PreprocessState& state, const std::filesystem::path& path);
/// Reads a state file. Throws InputError for a missing file, invalid JSON or content.
PreprocessState read_preprocess_state(const std::filesystem::path& path);

/// Options of apply_preprocess_state.
struct ApplyStateOptions {
  /// Require the label column when the state has labels (true), or return no label codes
  /// when the data set lacks it (false, e.g. data used only for embedding).
  bool require_labels = true;
  /// The same for the batch column.
  bool require_batches = true;
};

struct ApplyStateResult {
  Dataset data;                           ///< every cell, the state's genes in the state's order
  std::vector<std::int32_t> label_codes;  ///< per cell; empty when the state has no labels
  std::vector<std::int32_t> batch_codes;  ///< per cell; empty when the state has no batches
};

/// Prepares a new data set for a model: selects the state's genes by name, in the state's
/// order (no cell is filtered), and encodes labels and batches with the state's encoders.
/// Throws InputError listing how many genes are missing and the first few names, for a
/// missing required column, and for unknown or missing labels/batches (naming the row).
ApplyStateResult apply_preprocess_state(const PreprocessState& state, const Dataset& data,
                                        const ApplyStateOptions& options = {});

}  // namespace cellvae
