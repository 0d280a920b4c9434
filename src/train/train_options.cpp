#include "cellvae/train/train_options.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"

namespace cellvae::train {
namespace {

using nlohmann::json;

constexpr NameTable<OptimizerKind, 4> kOptimizerNames{{
    {OptimizerKind::adam, "adam"},
    {OptimizerKind::adamw, "adamw"},
    {OptimizerKind::sgd, "sgd"},
    {OptimizerKind::rmsprop, "rmsprop"},
}};

constexpr NameTable<DeviceKind, 3> kDeviceNames{{
    {DeviceKind::cpu, "cpu"},
    {DeviceKind::cuda, "cuda"},
    {DeviceKind::auto_, "auto"},
}};

[[noreturn]] void invalid(const char* flag, const char* rule, const std::string& got) {
  throw InputError(std::string(flag) + " must be " + rule + " (got " + got + ")");
}

void check(bool ok, const char* flag, const char* rule, double got) {
  if (!ok) invalid(flag, rule, format_number(got));
}

void check_int(bool ok, const char* flag, const char* rule, std::int64_t got) {
  if (!ok) invalid(flag, rule, std::to_string(got));
}

// Reads `key` of `j` into `out` when present; InputError naming the key when mistyped.
struct Reader {
  const json& j;

  const json* find(const char* key) const {
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  }
  [[noreturn]] static void bad(const char* key, const char* expected) {
    throw InputError(std::string("training options: key '") + key + "' must be " + expected);
  }
  void number(const char* key, double& out) const {
    if (const json* v = find(key)) {
      if (!v->is_number()) bad(key, "a number");
      out = v->get<double>();
    }
  }
  void integer(const char* key, std::int64_t& out) const {
    if (const json* v = find(key)) {
      if (!v->is_number_integer()) bad(key, "an integer");
      if (v->is_number_unsigned() &&
          v->get<std::uint64_t>() >
              static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        bad(key, "an integer in range");
      out = v->get<std::int64_t>();
    }
  }
  void optional_integer(const char* key, std::optional<std::int64_t>& out) const {
    if (const json* v = find(key)) {
      if (v->is_null()) {
        out.reset();
        return;
      }
      std::int64_t x = 0;
      integer(key, x);
      out = x;
    }
  }
  void optional_number(const char* key, std::optional<double>& out) const {
    if (const json* v = find(key)) {
      if (v->is_null()) {
        out.reset();
        return;
      }
      double x = 0;
      number(key, x);
      out = x;
    }
  }
  void boolean(const char* key, bool& out) const {
    if (const json* v = find(key)) {
      if (!v->is_boolean()) bad(key, "true or false");
      out = v->get<bool>();
    }
  }
  void seed(const char* key, std::uint64_t& out) const {
    if (const json* v = find(key)) {
      if (v->is_number_unsigned())
        out = v->get<std::uint64_t>();
      else if (v->is_number_integer() && v->get<std::int64_t>() >= 0)
        out = static_cast<std::uint64_t>(v->get<std::int64_t>());
      else
        bad(key, "a non-negative integer");
    }
  }
  template <class Parse, class T>
  void name(const char* key, Parse parse, T& out) const {
    if (const json* v = find(key)) {
      if (!v->is_string()) bad(key, "a string");
      try {
        out = parse(v->get<std::string>());
      } catch (const InputError& e) {
        throw InputError(std::string("training options: key '") + key + "': " + e.what());
      }
    }
  }
};

template <class T>
json optional_json(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

std::string_view to_string(OptimizerKind kind) { return name_of(kOptimizerNames, kind); }
OptimizerKind parse_optimizer_kind(std::string_view name) {
  return parse_name(kOptimizerNames, name, "optimizer");
}

std::string_view to_string(DeviceKind kind) { return name_of(kDeviceNames, kind); }
DeviceKind parse_device_kind(std::string_view name) {
  return parse_name(kDeviceNames, name, "device");
}

void validate(const TrainOptions& o) {
  auto finite = [](double v) { return std::isfinite(v); };
  check(finite(o.learning_rate) && o.learning_rate > 0, "--lr", "> 0", o.learning_rate);
  check(finite(o.weight_decay) && o.weight_decay >= 0, "--weight-decay", ">= 0", o.weight_decay);
  check(finite(o.adam_epsilon) && o.adam_epsilon > 0, "adam_epsilon", "> 0", o.adam_epsilon);
  check(finite(o.momentum) && o.momentum >= 0 && o.momentum < 1, "momentum", "in [0, 1)",
        o.momentum);
  check_int(o.min_batch_cells >= 1, "min_batch_cells", ">= 1", o.min_batch_cells);
  if (o.batch_size < std::max<std::int64_t>(1, o.min_batch_cells))
    throw InputError("--batch-size must be >= " +
                     std::to_string(std::max<std::int64_t>(1, o.min_batch_cells)) +
                     ", the smallest minibatch trained on (min_batch_cells) (got " +
                     std::to_string(o.batch_size) + ")");
  if (o.epochs) check_int(*o.epochs >= 1, "--epochs", ">= 1", *o.epochs);
  check(finite(o.kl_weight) && o.kl_weight >= 0, "--kl-weight", ">= 0", o.kl_weight);
  check(finite(o.kl_warmup_epochs) && o.kl_warmup_epochs >= 0, "--kl-warmup", ">= 0",
        o.kl_warmup_epochs);
  if (o.patience) check_int(*o.patience >= 0, "--patience", ">= 0", *o.patience);
  check(finite(o.min_delta) && o.min_delta >= 0, "--min-delta", ">= 0", o.min_delta);
  if (o.lr_patience) check_int(*o.lr_patience >= 0, "--lr-patience", ">= 0", *o.lr_patience);
  check(finite(o.lr_factor) && o.lr_factor > 0 && o.lr_factor < 1, "--lr-factor", "in (0, 1)",
        o.lr_factor);
  check(finite(o.min_learning_rate) && o.min_learning_rate >= 0, "min_learning_rate", ">= 0",
        o.min_learning_rate);
  if (o.gradient_clip)
    check(finite(*o.gradient_clip) && *o.gradient_clip > 0, "--clip", "> 0", *o.gradient_clip);
  if (o.threads) check_int(*o.threads >= 1, "--threads", ">= 1", *o.threads);
}

json train_options_to_json(const TrainOptions& o) {
  return json{{"optimizer", std::string(to_string(o.optimizer))},
              {"learning_rate", o.learning_rate},
              {"weight_decay", o.weight_decay},
              {"adam_epsilon", o.adam_epsilon},
              {"momentum", o.momentum},
              {"batch_size", o.batch_size},
              {"epochs", optional_json(o.epochs)},
              {"kl_weight", o.kl_weight},
              {"kl_warmup_epochs", o.kl_warmup_epochs},
              {"min_batch_cells", o.min_batch_cells},
              {"patience", optional_json(o.patience)},
              {"min_delta", o.min_delta},
              {"restore_best", o.restore_best},
              {"lr_patience", optional_json(o.lr_patience)},
              {"lr_factor", o.lr_factor},
              {"min_learning_rate", o.min_learning_rate},
              {"gradient_clip", optional_json(o.gradient_clip)},
              {"seed", o.seed},
              {"threads", optional_json(o.threads)},
              {"device", std::string(to_string(o.device))}};
}

TrainOptions train_options_from_json(const json& j) {
  if (!j.is_object()) throw InputError("training options must be a JSON object");
  const json known = train_options_to_json(TrainOptions{});
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!known.contains(it.key())) {
      std::vector<std::string> names;
      for (auto k = known.begin(); k != known.end(); ++k) names.push_back(k.key());
      throw InputError("training options: unknown key '" + it.key() + "'; known: " +
                       join_names(names, names.size()));
    }
  }
  TrainOptions o;
  const Reader r{j};
  r.name("optimizer", parse_optimizer_kind, o.optimizer);
  r.number("learning_rate", o.learning_rate);
  r.number("weight_decay", o.weight_decay);
  r.number("adam_epsilon", o.adam_epsilon);
  r.number("momentum", o.momentum);
  r.integer("batch_size", o.batch_size);
  r.optional_integer("epochs", o.epochs);
  r.number("kl_weight", o.kl_weight);
  r.number("kl_warmup_epochs", o.kl_warmup_epochs);
  r.integer("min_batch_cells", o.min_batch_cells);
  r.optional_integer("patience", o.patience);
  r.number("min_delta", o.min_delta);
  r.boolean("restore_best", o.restore_best);
  r.optional_integer("lr_patience", o.lr_patience);
  r.number("lr_factor", o.lr_factor);
  r.number("min_learning_rate", o.min_learning_rate);
  r.optional_number("gradient_clip", o.gradient_clip);
  r.seed("seed", o.seed);
  std::optional<std::int64_t> threads;
  r.optional_integer("threads", threads);
  if (threads) {
    if (*threads < std::numeric_limits<int>::min() || *threads > std::numeric_limits<int>::max())
      Reader::bad("threads", "an integer in range");
    o.threads = static_cast<int>(*threads);
  }
  r.name("device", parse_device_kind, o.device);
  validate(o);
  return o;
}

std::int64_t default_epochs(std::int64_t n_train_cells) {
  if (n_train_cells <= 0) return 400;
  const double rule = std::round(20000.0 / static_cast<double>(n_train_cells) * 400.0);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::min(rule, 400.0)));
}

}  // namespace cellvae::train
