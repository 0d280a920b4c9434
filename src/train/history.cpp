#include "cellvae/train/history.hpp"

#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cellvae/atomic_output.hpp"
#include "cellvae/error.hpp"

namespace cellvae::train {
namespace {

using nlohmann::json;

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

json summary_to_json(const LossSummary& s) {
  return json{{"loss", s.loss},
              {"reconstruction", s.reconstruction},
              {"kl_z", s.kl_z},
              {"kl_library", s.kl_library}};
}

// Accessors that name the key path ("epochs[3].train.loss") in errors.
struct Reader {
  const json& node;
  std::string path;

  std::string key_path(const std::string& key) const {
    return path.empty() ? key : path + "." + key;
  }
  [[noreturn]] void bad(const std::string& key, const char* expected) const {
    throw InputError("history: '" + key_path(key) + "' must be " + expected);
  }
  const json& get(const std::string& key) const {
    if (!node.is_object())
      throw InputError("history: '" + (path.empty() ? std::string("(top)") : path) +
                       "' must be an object");
    auto it = node.find(key);
    if (it == node.end()) throw InputError("history: missing key '" + key_path(key) + "'");
    return *it;
  }
  double number(const std::string& key) const {
    const json& j = get(key);
    if (!j.is_number()) bad(key, "a number");
    return j.get<double>();
  }
  std::int64_t integer(const std::string& key) const {
    const json& j = get(key);
    if (!j.is_number_integer()) bad(key, "an integer");
    return j.get<std::int64_t>();
  }
  bool boolean(const std::string& key) const {
    const json& j = get(key);
    if (!j.is_boolean()) bad(key, "true or false");
    return j.get<bool>();
  }
};

LossSummary summary_from_json(const Reader& parent, const std::string& key) {
  const json& j = parent.get(key);
  if (!j.is_object()) parent.bad(key, "an object");
  const Reader r{j, parent.key_path(key)};
  LossSummary s;
  s.loss = r.number("loss");
  s.reconstruction = r.number("reconstruction");
  s.kl_z = r.number("kl_z");
  s.kl_library = r.number("kl_library");
  return s;
}

}  // namespace

void write_history_csv(const History& history, const std::filesystem::path& path) {
  AtomicOutput out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    if (!f) throw InputError("cannot write training history to '" + path.string() + "'");
    f << "epoch,train_loss,train_reconstruction,train_kl_z,train_kl_library,validation_loss,"
         "validation_reconstruction,validation_kl_z,validation_kl_library,kl_weight,"
         "learning_rate,seconds\n";
    for (const EpochRecord& e : history.epochs) {
      f << e.epoch << ',' << number(e.train.loss) << ',' << number(e.train.reconstruction) << ','
        << number(e.train.kl_z) << ',' << number(e.train.kl_library) << ',';
      if (e.validation)
        f << number(e.validation->loss) << ',' << number(e.validation->reconstruction) << ','
          << number(e.validation->kl_z) << ',' << number(e.validation->kl_library) << ',';
      else
        f << ",,,,";
      f << number(e.kl_weight) << ',' << number(e.learning_rate) << ',' << number(e.seconds)
        << '\n';
    }
    if (!f) throw InputError("cannot write training history to '" + path.string() + "'");
  }
  out.commit();
}

json history_to_json(const History& history) {
  json epochs = json::array();
  for (const EpochRecord& e : history.epochs)
    epochs.push_back(json{{"epoch", e.epoch},
                          {"train", summary_to_json(e.train)},
                          {"validation", e.validation ? summary_to_json(*e.validation) : json()},
                          {"kl_weight", e.kl_weight},
                          {"learning_rate", e.learning_rate},
                          {"seconds", e.seconds}});
  return json{{"epochs", std::move(epochs)},
              {"best_epoch", history.best_epoch},
              {"stopped_early", history.stopped_early}};
}

History history_from_json(const json& j) {
  const Reader top{j, ""};
  History h;
  h.best_epoch = top.integer("best_epoch");
  h.stopped_early = top.boolean("stopped_early");
  const json& epochs = top.get("epochs");
  if (!epochs.is_array()) top.bad("epochs", "an array");
  for (std::size_t i = 0; i < epochs.size(); ++i) {
    const Reader r{epochs[i], "epochs[" + std::to_string(i) + "]"};
    EpochRecord e;
    e.epoch = r.integer("epoch");
    e.train = summary_from_json(r, "train");
    if (!r.get("validation").is_null()) e.validation = summary_from_json(r, "validation");
    e.kl_weight = r.number("kl_weight");
    e.learning_rate = r.number("learning_rate");
    e.seconds = r.number("seconds");
    h.epochs.push_back(e);
  }
  if (h.best_epoch < 0 || h.best_epoch > static_cast<std::int64_t>(h.epochs.size()))
    throw InputError("history: best_epoch " + std::to_string(h.best_epoch) +
                     " is not one of the " + std::to_string(h.epochs.size()) + " epochs");
  return h;
}

}  // namespace cellvae::train
