// `cellvae cluster MODEL_DIR DATA`: clusters in the model's latent space (k-means, a Gaussian
// mixture, or a GMVAE's own components), optionally scored against an annotation.
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cellvae/atomic_output.hpp"
#include "cellvae/error.hpp"
#include "cellvae/pipeline/latent.hpp"
#include "cli_common.hpp"
#include "commands.hpp"
#include "latent_cli.hpp"

namespace cellvae::cli {
namespace {

enum class OutputKind { assignments_csv, assignments_tsv, summary_json };

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

OutputKind output_kind(const std::string& path) {
  if (ends_with(path, ".csv")) return OutputKind::assignments_csv;
  if (ends_with(path, ".tsv") || ends_with(path, ".txt")) return OutputKind::assignments_tsv;
  if (ends_with(path, ".json")) return OutputKind::summary_json;
  throw InputError("-o " + path +
                   ": write .csv or .tsv (cluster of each cell) or .json (summary and metrics)");
}

// A table field, quoted when it holds the separator, a quote or a line break (RFC 4180).
std::string field(const std::string& s, char sep) {
  if (s.find_first_of(std::string(1, sep) + "\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

void write_text_atomically(const std::string& path, const std::string& text) {
  AtomicOutput file(path);
  std::ofstream f(file.temp_path(), std::ios::binary);
  f << text;
  f.close();
  if (!f) throw InputError("cannot write " + path);
  file.commit();
}

}  // namespace

void add_cluster_command(CLI::App& app) {
  struct Args {
    ModelDataArgs io;
    std::string method = "kmeans";
    std::optional<std::int64_t> k;
    std::optional<int> restarts;
    std::optional<std::string> label_key;
    std::vector<std::string> outputs;
    std::uint64_t seed = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "cluster", "Cluster cells in the latent space (k-means, Gaussian mixture, GMVAE components)");
  cmd->footer(
      "Clusters the posterior means of z. With --label-key, reports the agreement with an "
      "annotation (adjusted Rand index, normalized mutual information).");
  add_model_data_args(cmd, args->io);
  cmd->add_option("--method", args->method,
                  "kmeans (k-means++ with restarts), gmm (Gaussian mixture; K by BIC over 1..9 "
                  "and covariance types unless -k), model (argmax q(y|x) of a model with prior "
                  "gmm)")
      ->capture_default_str();
  cmd->add_option("-k,--clusters", args->k,
                  "number of clusters (kmeans default: the number of categories of the model's "
                  "label key)");
  cmd->add_option("--restarts", args->restarts,
                  "independent starts, best kept (default: kmeans 10, gmm 1)");
  cmd->add_option("--label-key", args->label_key,
                  "obs column to compare the clusters with (e.g. cell_type)");
  cmd->add_option("-o,--output", args->outputs,
                  "write .csv/.tsv (cell,cluster) and/or .json (summary and metrics); repeatable");
  cmd->add_option("--seed", args->seed, "seed of the k-means++ starts")->capture_default_str();
  cmd->callback([args] {
    pipeline::ClusterOptions options;
    options.method = pipeline::parse_cluster_method(args->method);
    options.clusters = args->k;
    options.restarts = args->restarts;
    options.seed = args->seed;
    options.batch_size = args->io.batch_size;
    for (const auto& path : args->outputs) {
      output_kind(path);
      check_output_free(path, args->io.force);
    }
    const pipeline::TrainedModel m = load_model(args->io);
    const Dataset ds = read_data(args->io);
    const Column* reference = nullptr;
    if (args->label_key) reference = &ds.obs.at(*args->label_key);  // names the key if absent

    const data::CellData cells = pipeline::cells_to_embed(m, ds);
    const pipeline::Clustering c = pipeline::cluster(m, cells, options);

    nlohmann::json summary{{"model", args->io.model},
                           {"data", args->io.in},
                           {"method", std::string(pipeline::to_string(c.method))},
                           {"n_cells", c.labels.size()},
                           {"clusters", c.clusters},
                           {"sizes", c.sizes}};
    if (c.method != pipeline::ClusterMethod::model) {
      summary["restarts"] = c.restarts;
      summary["seed"] = args->seed;
    }
    if (c.method == pipeline::ClusterMethod::gmm) {
      summary["covariance"] = std::string(analysis::to_string(c.mixture.covariance));
      summary["bic"] = c.mixture.bic;
      summary["selected_by_bic"] = c.selected_by_bic;
    }
    std::cout << "cluster: " << pipeline::to_string(c.method) << ", " << c.clusters << " clusters";
    if (c.method == pipeline::ClusterMethod::gmm)
      std::cout << " (" << analysis::to_string(c.mixture.covariance) << " covariance"
                << (c.selected_by_bic ? ", chosen by BIC" : "") << ")";
    std::cout << " on " << c.labels.size() << " cells\nsizes:";
    for (std::size_t i = 0; i < c.sizes.size(); ++i) std::cout << ' ' << i << ':' << c.sizes[i];
    std::cout << '\n';
    if (reference) {
      const pipeline::ClusterAgreement a = pipeline::compare_with_reference(c.labels, *reference);
      summary["label_key"] = *args->label_key;
      summary["adjusted_rand_index"] = a.adjusted_rand_index;
      summary["normalized_mutual_information"] = a.normalized_mutual_information;
      summary["n_compared"] = a.n_compared;
      summary["n_missing"] = a.n_missing;
      summary["n_categories"] = a.n_categories;
      std::cout << "against '" << *args->label_key << "' (" << a.n_categories << " categories, "
                << a.n_compared << " cells): ARI " << a.adjusted_rand_index << ", NMI "
                << a.normalized_mutual_information << '\n';
    }

    for (const auto& path : args->outputs) {
      const OutputKind kind = output_kind(path);
      if (kind == OutputKind::summary_json) {
        write_text_atomically(path, summary.dump(2) + "\n");
        continue;
      }
      const char sep = kind == OutputKind::assignments_csv ? ',' : '\t';
      std::string text = std::string("cell") + sep + "cluster\n";
      for (std::size_t i = 0; i < c.labels.size(); ++i)
        text += field(ds.obs.index[i], sep) + sep + std::to_string(c.labels[i]) + '\n';
      write_text_atomically(path, text);
    }
  });
}

}  // namespace cellvae::cli
