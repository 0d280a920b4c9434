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
#include "cellvae/json_fields.hpp"

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
              {"fused_optimizer", o.fused_optimizer},
              {"seed", o.seed},
              {"threads", optional_json(o.threads)},
              {"device", std::string(to_string(o.device))}};
}

TrainOptions train_options_from_json(const json& j) {
  const JsonFields r(j, "training options");
  r.require_known_keys(train_options_to_json(TrainOptions{}));
  TrainOptions o;
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
  r.boolean("fused_optimizer", o.fused_optimizer);
  r.seed("seed", o.seed);
  std::optional<std::int64_t> threads;
  r.optional_integer("threads", threads);
  if (threads) {
    if (*threads < std::numeric_limits<int>::min() || *threads > std::numeric_limits<int>::max())
      r.bad("threads", "an integer in range");
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
