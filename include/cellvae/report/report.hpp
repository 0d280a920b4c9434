// The report of an augment run (`cellvae report RUN_DIR -o report.html`, and
// RUN_DIR/report.html written by `cellvae augment`): one self-contained HTML page with the
// run's configuration, the model's architecture, the training curves, an embedding and QC
// plots of held-out real against generated cells, and the fidelity metrics beside the
// real-vs-real control.
//
// Two steps: gather_run_report reads a run folder into a RunReport (text, tables and encoded
// pictures, nothing HTML-specific), render_html turns that into the page. The page needs
// nothing outside itself: figures are PNG data: URIs, the diagram is inline SVG, the style
// sheet is inline, there is no script, and every string taken from the data is escaped.
//
// What gather_run_report reads (all written by `cellvae augment`):
//   RUN_DIR/augment.json        the run summary: data, output, cell counts, generator
//                               provenance (required)
//   RUN_DIR/model/model.json    "fit": every preprocessing, model and training option as
//                               resolved; "data": cells, epochs, best epoch (required)
//   RUN_DIR/model/history.json  loss per epoch                        -> training curves
//   RUN_DIR/model/preprocess.json  label and batch categories -> run summary, architecture
//   RUN_DIR/test_cells.txt      names of the cells held out of training
//   RUN_DIR/metrics.json        analysis::to_json of the fidelity result -> metrics table;
//                               its control is augment's training cells (a second real
//                               sample), so the control has no memorisation scores
//   the augmented output (augment.json "output", or ReportOptions::cells): the real cells
//                               (origin = real) and the generated ones (origin = generated)
//                               -> embedding and QC
// A missing optional piece (no metrics.json after --no-evaluate, an output file that has been
// moved) leaves its section with a note saying what is missing and why, not an error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cellvae/plot/plots.hpp"

namespace cellvae::report {

struct ReportOptions {
  /// The augmented output (real + generated cells) to draw the embedding and QC from. Empty:
  /// augment.json's "output", as written (relative to the current directory), else a file of
  /// that name beside the run folder (where augment puts its default run folder).
  std::optional<std::filesystem::path> cells;
  /// Cells drawn (seeded, without replacement) from each of the held-out real and the
  /// generated cells for the embedding and QC figures; all of them when fewer. >= 10.
  std::int64_t max_cells = 2000;
  /// Embedding of held-out real and generated cells, computed on both together (UMAP: it
  /// shows whether generated cells fill the same clusters as the real ones, which PC1/PC2
  /// alone can hide).
  plot::EmbeddingMethod embedding_method = plot::EmbeddingMethod::umap;
  std::uint64_t seed = 0;  ///< the subsamples and the embedding
  /// Page title; "" -> "cellvae run <run folder name>".
  std::string title;
};

/// A picture in the page.
struct ReportImage {
  /// "image/png" (embedded as a data: URI) or "image/svg+xml" (inlined as is: one per page,
  /// since element ids of inline SVGs share the page's namespace).
  std::string mime;
  std::string bytes;  ///< the file's contents (for SVG, its text)
  std::string alt;    ///< what it shows, for readers that cannot see it
};

/// One row of a two-column table.
struct Field {
  std::string key, value;
};

struct FieldTable {
  std::string caption;  ///< "" for none
  std::vector<Field> rows;
};

/// Which value of a metric is good, to read the generated column against the control.
enum class Better {
  lower,    ///< 0 is ideal (KS, energy, MMD²)
  higher,   ///< 1 is ideal (Spearman, accuracy)
  half,     ///< 0.5 is ideal (classifier AUC: cannot tell real from generated)
  one,      ///< 1 is ideal, both sides bad (nearest-neighbour distance ratio)
  nominal,  ///< a reference value, not 0 or 1 (fraction closer than real's 5th percentile)
  none,     ///< context, no ideal (median library size, variance share)
};

/// One score, generated against held-out real cells, and the same score for the real-vs-real
/// control.
struct MetricRow {
  std::string group;    ///< "per-cell distributions", "joint structure", ...
  std::string name;     ///< "library size KS"
  std::string meaning;  ///< one sentence: what it measures and which way is good
  std::string ideal;    ///< "0", "1", "0.5", "" for context rows
  Better better = Better::none;
  std::optional<double> generated;  ///< empty when not computed (NaN in metrics.json)
  std::optional<double> control;    ///< empty without a control or where it does not apply
  int digits = 3;                   ///< decimals shown
  /// Whether `generated` is at least as close to `ideal` as `control` is (both present and an
  /// ideal known): "as good as real" on this data.
  std::optional<bool> as_good_as_control;
};

/// One part of the page. A section whose data are missing keeps its title and says why in
/// `notes`.
struct Section {
  std::string id;  ///< anchor in the page, e.g. "training"
  std::string title;
  std::string summary;             ///< what the section shows and how to read it
  std::vector<std::string> notes;  ///< what is missing, subsampled or to keep in mind
  std::vector<FieldTable> tables;
  std::vector<ReportImage> images;
  std::vector<MetricRow> metrics;  ///< the metrics section only
};

struct RunReport {
  std::string title;
  std::filesystem::path run_dir;
  /// In page order, with ids "summary", "configuration", "architecture", "training",
  /// "embedding", "qc", "metrics". Every section is always present.
  std::vector<Section> sections;
  /// Things the CLI should show: missing pieces, figure warnings, the metrics' own warnings.
  std::vector<std::string> warnings;

  /// The section with that id, or nullptr.
  const Section* section(const std::string& id) const;
};

/// Reads a run folder written by `cellvae augment` (see above) and draws its figures. Throws
/// InputError naming the folder when it is not a run folder ("... is not a cellvae run folder:
/// no augment.json"), a required file is not valid JSON, or options are out of range; an
/// unreadable augmented output or a figure that cannot be drawn becomes a note in its section.
RunReport gather_run_report(const std::filesystem::path& run_dir,
                            const ReportOptions& options = {});

/// The page: a complete, self-contained HTML5 document (see above).
std::string render_html(const RunReport& report);

/// gather_run_report, render_html, and the page written to `output` atomically (replacing an
/// existing file: the caller decides whether that is allowed). Returns the report, for its
/// warnings. Throws InputError as gather_run_report, and naming `output` when it cannot be
/// written.
RunReport write_run_report(const std::filesystem::path& run_dir,
                           const std::filesystem::path& output, const ReportOptions& options = {});

}  // namespace cellvae::report
