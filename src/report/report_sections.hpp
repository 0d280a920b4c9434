// The parts of gather_run_report that build one section each from what is already in memory
// (internal to the report library).
#pragma once

#include <nlohmann/json.hpp>

#include "cellvae/plot/figure.hpp"
#include "cellvae/report/report.hpp"

namespace cellvae::plot {
struct ModelArchitecture;  // architecture.hpp pulls in LibTorch's headers; one file needs it
}

namespace cellvae::report::detail {

/// The model's layers as a diagram (plot::architecture_dot rendered to SVG by Graphviz),
/// from a model directory's model.json and preprocess.json. When Graphviz cannot render it,
/// the section says so and lists the layers as a table instead.
Section architecture_section(const plot::ModelArchitecture& architecture);

/// The metrics table from metrics.json (analysis::to_json): one row per score with the
/// generated and control values side by side. `control_is_training`: the control cells are the
/// model's own training cells (as in augment), so their memorisation scores measure nothing and
/// are left out of the control column.
std::vector<MetricRow> metric_rows(const nlohmann::json& metrics, bool control_is_training);

/// The figure as PNG file bytes (written to a temporary file and read back).
std::string png_bytes(const plot::Figure& figure);

}  // namespace cellvae::report::detail
