#include "cellvae/train/fused_adam.hpp"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "../model/kernel_support.hpp"

namespace cellvae::train {
namespace {

// Elements per thread task: below this a parameter is updated on the calling thread.
constexpr std::int64_t kGrain = 16384;

// The constants of one parameter's update.
struct Update {
  double lr = 0;
  double beta1 = 0, beta2 = 0, eps = 0;
  double l2 = 0;         // Adam: added to the gradient as l2 * p
  double decay = 1;      // AdamW: p *= decay first
  double step_size = 0;  // lr / (1 - beta1^t)
  double inv_sqrt_bc2 = 0;
};

CELLVAE_VECTOR_MATH_BEGIN

// One pass over elements [0, n) of p, g (HasGrad false: a zero gradient), m and v.
template <class T, bool HasGrad>
CELLVAE_INLINE void adam_pass_impl(T* CELLVAE_RESTRICT p, const T* CELLVAE_RESTRICT g,
                                   T* CELLVAE_RESTRICT m, T* CELLVAE_RESTRICT v, std::int64_t n,
                                   const Update& u) {
  const T b1 = static_cast<T>(u.beta1), c1 = static_cast<T>(1 - u.beta1);
  const T b2 = static_cast<T>(u.beta2), c2 = static_cast<T>(1 - u.beta2);
  const T eps = static_cast<T>(u.eps), l2 = static_cast<T>(u.l2);
  const T decay = static_cast<T>(u.decay), step_size = static_cast<T>(u.step_size);
  const T inv_bc2 = static_cast<T>(u.inv_sqrt_bc2);
  for (std::int64_t i = 0; i < n; ++i) {
    T w = p[i];
    const T gi = (HasGrad ? g[i] : T(0)) + l2 * w;
    w *= decay;
    const T mi = b1 * m[i] + c1 * gi;
    const T vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = w - step_size * mi / (kernels::sqrt_newton(vi) * inv_bc2 + eps);
  }
}

CELLVAE_MULTIVERSION
void adam_pass(float* p, const float* g, float* m, float* v, std::int64_t n, const Update& u) {
  if (g)
    adam_pass_impl<float, true>(p, g, m, v, n, u);
  else
    adam_pass_impl<float, false>(p, nullptr, m, v, n, u);
}

CELLVAE_MULTIVERSION
void adam_pass(double* p, const double* g, double* m, double* v, std::int64_t n,
               const Update& u) {
  if (g)
    adam_pass_impl<double, true>(p, g, m, v, n, u);
  else
    adam_pass_impl<double, false>(p, nullptr, m, v, n, u);
}

CELLVAE_VECTOR_MATH_END

template <class T>
void run(const torch::Tensor& p, const torch::Tensor& g, torch::Tensor& m, torch::Tensor& v,
         const Update& u) {
  T* pp = p.data_ptr<T>();
  const T* gp = g.defined() ? g.data_ptr<T>() : nullptr;
  T* mp = m.data_ptr<T>();
  T* vp = v.data_ptr<T>();
  at::parallel_for(0, p.numel(), kGrain, [&](std::int64_t begin, std::int64_t end) {
    adam_pass(pp + begin, gp ? gp + begin : nullptr, mp + begin, vp + begin, end - begin, u);
  });
}

// True when p (and its gradient and state, when defined) can take the fused pass.
bool fusable(const torch::Tensor& p, const torch::Tensor& g, bool amsgrad) {
  if (amsgrad || !p.device().is_cpu() || p.layout() != torch::kStrided || !p.is_contiguous())
    return false;
  if (p.scalar_type() != torch::kFloat && p.scalar_type() != torch::kDouble) return false;
  if (g.defined() && (g.is_sparse() || !g.device().is_cpu() || !g.is_contiguous() ||
                      g.scalar_type() != p.scalar_type() || g.sizes() != p.sizes()))
    return false;
  return true;
}

// The shared step of FusedAdam and FusedAdamW. Options is AdamOptions or AdamWOptions (same
// fields). Parameters that cannot take the fused pass are collected in `rest` for the
// caller's fallback (returns false when there are some).
template <class Options>
bool fused_step(torch::optim::Optimizer& opt,
                ska::flat_hash_map<std::string, std::unique_ptr<torch::optim::OptimizerParamState>>&
                    states,
                bool decoupled) {
  torch::NoGradGuard no_grad;
  bool all = true;
  // First pass: can every parameter with work to do take the fused path?
  for (auto& group : opt.param_groups()) {
    const auto& o = static_cast<const Options&>(group.options());
    for (auto& p : group.params()) {
      const bool has_state = states.count(c10::guts::to_string(p.unsafeGetTensorImpl())) > 0;
      if (!p.grad().defined() && !has_state) continue;
      if (!fusable(p, p.grad(), o.amsgrad())) all = false;
    }
  }
  if (!all) return false;
  for (auto& group : opt.param_groups()) {
    const auto& o = static_cast<const Options&>(group.options());
    for (auto& p : group.params()) {
      const std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto found = states.find(key);
      const torch::Tensor& g = p.grad();
      if (!g.defined() && found == states.end()) continue;
      if (found == states.end()) {
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->step(0);
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        found = states.emplace(key, std::move(s)).first;
      }
      auto& s = static_cast<torch::optim::AdamParamState&>(*found->second);
      s.step(s.step() + 1);
      Update u;
      u.lr = o.lr();
      u.beta1 = std::get<0>(o.betas());
      u.beta2 = std::get<1>(o.betas());
      u.eps = o.eps();
      if (decoupled)
        u.decay = 1 - o.lr() * o.weight_decay();
      else
        u.l2 = o.weight_decay();
      const double t = static_cast<double>(s.step());
      u.step_size = o.lr() / (1 - std::pow(u.beta1, t));
      u.inv_sqrt_bc2 = 1 / std::sqrt(1 - std::pow(u.beta2, t));
      torch::Tensor& m = s.exp_avg();
      torch::Tensor& v = s.exp_avg_sq();
      if (!m.is_contiguous()) m = m.contiguous();
      if (!v.is_contiguous()) v = v.contiguous();
      if (p.scalar_type() == torch::kFloat)
        run<float>(p, g, m, v, u);
      else
        run<double>(p, g, m, v, u);
    }
  }
  return true;
}

}  // namespace

FusedAdam::FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options)
    : torch::optim::Adam(std::move(params), options) {}

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  if (!fused_step<torch::optim::AdamOptions>(*this, state_, /*decoupled=*/false))
    torch::optim::Adam::step();
  return loss;
}

FusedAdamW::FusedAdamW(std::vector<torch::Tensor> params, torch::optim::AdamWOptions options)
    : torch::optim::AdamW(std::move(params), options) {}

torch::Tensor FusedAdamW::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  if (!fused_step<torch::optim::AdamWOptions>(*this, state_, /*decoupled=*/true))
    torch::optim::AdamW::step();
  return loss;
}

void clear_gradients(const std::vector<torch::Tensor>& params) {
  for (const auto& p : params)
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

}  // namespace cellvae::train
