#include "cellvae/pipeline/write_generated.hpp"

#include <fstream>
#include <limits>
#include <stdexcept>
#include <vector>

#include "cellvae/atomic_output.hpp"
#include "cellvae/error.hpp"
#include "cellvae/file_format.hpp"
#include "cellvae/generate/ensemble.hpp"
#include "cellvae/preprocess/preprocess_state.hpp"

namespace cellvae::pipeline {
namespace {

// One CSV field, quoted when it holds a separator, quote or line break (RFC 4180).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

void write_obs_csv(const DataFrame& obs, const std::filesystem::path& path) {
  AtomicOutput out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    f << "cell";
    for (const Column& c : obs.columns) f << ',' << csv_field(c.name);
    f << '\n';
    for (std::size_t i = 0; i < obs.n_rows(); ++i) {
      f << csv_field(obs.index[i]);
      for (const Column& c : obs.columns) f << ',' << csv_field(c.text(i));
      f << '\n';
    }
    if (!f) throw InputError("cannot write " + path.string());
  }
  out.commit();
}

// Accumulates the per-cell annotations (small next to the matrix) until finish().
struct ObsColumns {
  std::vector<std::int32_t> labels, batches, origin, member;
  std::vector<double> library;
};

}  // namespace

std::filesystem::path obs_sidecar_path(const std::filesystem::path& output) {
  std::filesystem::path p = output;
  if (p.has_filename() && p.filename() != ".") {
    std::string name = p.filename().string();
    for (const char* ext : {".gz", ".csv", ".tsv"})
      if (name.size() > std::string(ext).size() &&
          name.compare(name.size() - std::string(ext).size(), std::string::npos, ext) == 0)
        name.resize(name.size() - std::string(ext).size());
    return p.parent_path() / (name + "_obs.csv");
  }
  return p.parent_path().parent_path() / (p.parent_path().filename().string() + "_obs.csv");
}

std::int64_t write_generated(generate::CellGenerator& generator, const TrainedModel& model,
                             const std::filesystem::path& path,
                             const GeneratedOutputOptions& options) {
  return write_generated(std::vector<generate::CellGenerator*>{&generator}, model, path, options);
}

std::int64_t write_generated(const std::vector<generate::CellGenerator*>& generators,
                             const TrainedModel& model, const std::filesystem::path& path,
                             const GeneratedOutputOptions& options) {
  if (generators.empty()) throw std::invalid_argument("write_generated: no generator");
  const bool ensemble = generators.size() > 1;
  if (ensemble && options.member_names.size() != generators.size())
    throw std::invalid_argument("write_generated: one member name per generator");
  const PreprocessState& pre = model.preprocess;
  DataFrame var;
  var.index = pre.genes;
  DatasetWriter writer(path, var, options.writer);
  ObsColumns obs;
  std::vector<std::string> real_names;

  if (options.real) {
    ApplyStateOptions apply;
    apply.require_labels = false;
    apply.require_batches = false;
    const ApplyStateResult real = apply_preprocess_state(pre, *options.real, apply);
    writer.append(real.data.X, real.data.obs.index);
    const std::size_t n = static_cast<std::size_t>(real.data.n_cells());
    obs.labels = real.label_codes.empty() ? std::vector<std::int32_t>(n, -1) : real.label_codes;
    obs.batches = real.batch_codes.empty() ? std::vector<std::int32_t>(n, -1) : real.batch_codes;
    obs.origin.assign(n, 0);
    obs.library = row_sums(real.data.X);
    obs.member.assign(n, -1);
    real_names = real.data.obs.index;
  }

  std::int64_t written = 0;
  std::int64_t total = 0;
  for (const generate::CellGenerator* g : generators) total += g->n_cells();
  for (std::size_t m = 0; m < generators.size(); ++m) {
    generate::CellGenerator& generator = *generators[m];
    while (generator.remaining() > 0) {
      generate::GeneratedChunk chunk = generator.next(options.chunk_cells);
      const std::int64_t n = chunk.values.n_rows;
      std::vector<std::string> names;
      names.reserve(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i)
        names.push_back(options.cell_prefix + std::to_string(written + i + 1));
      writer.append(chunk.values, names);
      for (std::int64_t i = 0; i < n; ++i) {
        const auto k = static_cast<std::size_t>(i);
        obs.labels.push_back(chunk.labels.empty() ? -1 : chunk.labels[k]);
        obs.batches.push_back(chunk.batches.empty() ? -1 : chunk.batches[k]);
        obs.origin.push_back(1);
        obs.library.push_back(chunk.library[k]);
        obs.member.push_back(static_cast<std::int32_t>(m));
      }
      written += n;
      if (options.on_progress) options.on_progress(written, total);
    }
  }

  DataFrame frame;
  if (pre.labels)
    frame.columns.push_back(
        Column::make_categorical(pre.labels->key, pre.labels->encoder.categories, obs.labels));
  if (pre.batches)
    frame.columns.push_back(
        Column::make_categorical(pre.batches->key, pre.batches->encoder.categories, obs.batches));
  frame.columns.push_back(Column::make_categorical("origin", {"real", "generated"}, obs.origin));
  frame.columns.push_back(Column::make_number("library_size", obs.library));
  if (ensemble)
    frame.columns.push_back(
        Column::make_categorical("ensemble_member", options.member_names, obs.member));

  const generate::CellGenerator& first = *generators.front();
  std::map<std::string, UnsValue> uns = options.uns;
  uns["cellvae_generate"] = generate::provenance_of(generators).dump();
  uns["cellvae_sampler"] = std::string(generate::to_string(first.sampler()));
  uns["cellvae_seed"] =
      static_cast<std::int64_t>(first.provenance().at("seed").get<std::uint64_t>());

  if (writer.format() == FileFormat::h5ad) {
    writer.finish(frame, {}, uns);
  } else {
    // The sidecar first: if it fails, the main output has not replaced anything yet.
    frame.index = real_names;
    for (std::int64_t i = 0; i < written; ++i)
      frame.index.push_back(options.cell_prefix + std::to_string(i + 1));
    write_obs_csv(frame, obs_sidecar_path(path));
    writer.finish();
  }
  return written;
}

}  // namespace cellvae::pipeline
