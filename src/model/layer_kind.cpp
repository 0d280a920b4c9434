#include "cellvae/model/layer_kind.hpp"

#include "cellvae/enum_names.hpp"

namespace cellvae::model {
namespace {

// ---- the one table per enum ------------------------------------------------------------------

constexpr NameTable<Activation, 7> kActivationNames{{
    {Activation::relu, "relu"},
    {Activation::elu, "elu"},
    {Activation::leaky_relu, "leaky_relu"},
    {Activation::tanh, "tanh"},
    {Activation::sigmoid, "sigmoid"},
    {Activation::softplus, "softplus"},
    {Activation::linear, "linear"},
}};

constexpr NameTable<Normalization, 3> kNormalizationNames{{
    {Normalization::none, "none"},
    {Normalization::batch, "batch"},
    {Normalization::layer, "layer"},
}};

constexpr NameTable<CovariateInjection, 2> kInjectionNames{{
    {CovariateInjection::first_layer, "first"},
    {CovariateInjection::every_layer, "all"},
}};

}  // namespace

std::string_view to_string(Activation activation) { return name_of(kActivationNames, activation); }
Activation parse_activation(std::string_view name) {
  return parse_name(kActivationNames, name, "activation");
}

std::string_view to_string(Normalization normalization) {
  return name_of(kNormalizationNames, normalization);
}
Normalization parse_normalization(std::string_view name) {
  return parse_name(kNormalizationNames, name, "normalization");
}

std::string_view to_string(CovariateInjection injection) {
  return name_of(kInjectionNames, injection);
}
CovariateInjection parse_covariate_injection(std::string_view name) {
  return parse_name(kInjectionNames, name, "covariate injection");
}

}  // namespace cellvae::model
