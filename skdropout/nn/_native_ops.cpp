// The two fused nodes of skdropout.nn as torch operators with their backward pass in C++
// (see _native.py): the noisy weights of VARDROP with the layer's KL term, and the gated
// weights of hard concrete with the expected number of open gates. The loops are those of
// _native.c (linked into this library); what this file adds is the autograd node around
// them, which as a Python autograd.Function called through ctypes cost ~0.07 ms per layer
// and training step, as much as the loops of a 30,000-weight layer.
//
//   torch.ops.skdropout.vardrop_noise(w, log_alpha, scale) -> (weights, kl)
//   torch.ops.skdropout.hardconcrete_gates(w, log_a, beta, gamma, zeta, shift, scale)
//       -> (weights, count)
//
// Inputs: contiguous float32 CPU tensors of the same size (checked). The seed of the
// noise is drawn from torch's default generator (so torch.manual_seed and the estimators'
// random_state reproduce the draws), and the work is split over torch's threads at block
// boundaries as _native.run splits the other loops, so the draws and the gradients do not
// depend on the number of threads.

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/functions/basic_ops.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <vector>

extern "C" {
int sk_block_size(void);
void sk_vardrop_noise(const float *w, const float *log_alpha, const float *eps, float *out,
                      float *scaled, float *g_la, long n, float scale, uint64_t seed,
                      long start, double *sums);
void sk_vardrop_noise_backward(const float *g, const float *w, const float *log_alpha,
                               const float *scaled, float *g_la, float *grad_w, long n,
                               float g_kl);
void sk_hardconcrete_gates(const float *w, const float *log_a, const float *u, float *out,
                           float *z_out, float *g_la, long n, float beta, float gamma,
                           float zeta, float shift, float scale, uint64_t seed, long start,
                           double *sums);
void sk_hardconcrete_gates_backward(const float *g, const float *w, const float *z,
                                    float *g_la, float *grad_w, long n, float beta,
                                    float gamma, float zeta, float g_p);
void sk_vardrop_kl(const float *first, const float *theta, float *d_first, float *d_theta,
                   long n, float scale, double *sums);
void sk_sigmoid_sum(const float *x, float *d, long n, float shift, float scale, double *sums);
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// below this many entries per thread a split costs more than it saves (_native._MIN_CHUNK)
constexpr int64_t kMinChunk = 32768;

enum Kind : int64_t { kVardrop = 0, kHardConcrete = 1 };

// Runs body(lo, hi, sums) over the parts [lo, hi) of [0, n) that _native.run makes
// (block-aligned, one per thread) and returns the n_sums sums added over the parts.
template <class Body>
std::vector<double> split(int64_t n, int n_sums, const Body &body) {
    const int64_t block = sk_block_size();
    const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(),
                                                                  n / kMinChunk));
    std::vector<double> sums(std::max<int64_t>(1, n_sums * parts), 0.0);
    auto bound = [&](int64_t k) { return k == parts ? n : n * k / parts / block * block; };
    at::parallel_for(0, parts, 1, [&](int64_t first, int64_t last) {
        for (int64_t k = first; k < last; k++)
            body(bound(k), bound(k + 1), sums.data() + n_sums * k);
    });
    std::vector<double> total(n_sums, 0.0);
    for (int64_t k = 0; k < parts; k++)
        for (int j = 0; j < n_sums; j++) total[j] += sums[n_sums * k + j];
    return total;
}

void check_inputs(const at::Tensor &w, const at::Tensor &x, const char *name) {
    for (const at::Tensor *t : {&w, &x})
        TORCH_CHECK(t->device().is_cpu() && t->scalar_type() == at::kFloat &&
                        t->is_contiguous(),
                    "skdropout::", name, " takes contiguous float32 CPU tensors");
    TORCH_CHECK(w.numel() == x.numel(), "skdropout::", name,
                ": the two inputs differ in size (", w.numel(), " and ", x.numel(), ")");
}

// A seed for the loops' stream, in [0, 2^62), from torch's default generator: the value
// that random_(0, 2^62) on a 0-d int64 tensor draws (random64() mod 2^62), without the
// tensor and its three dispatched calls.
uint64_t torch_seed() {
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return gen.get<at::CPUGeneratorImpl>()->random64() % (uint64_t(1) << 62);
}

// A 0-d float32 CPU tensor holding v (at::scalar_tensor less its dispatched fill).
at::Tensor scalar(double v) {
    at::Tensor t = at::empty({}, at::TensorOptions().dtype(at::kFloat));
    *t.data_ptr<float>() = static_cast<float>(v);
    return t;
}

// The term's derivative in x alone (scale dKL/dlog alpha, scale dP(open)/dlog a), for a
// second backward pass through the node, whose first pass completed the saved one in place.
at::Tensor term_derivative(int64_t kind, const at::Tensor &x, const std::vector<double> &p,
                           double scale) {
    at::Tensor d = at::empty_like(x);
    const float *xp = x.data_ptr<float>();
    float *dp = d.data_ptr<float>();
    split(x.numel(), 1, [&](int64_t lo, int64_t hi, double *sums) {
        if (kind == kVardrop)
            sk_vardrop_kl(xp + lo, nullptr, dp + lo, nullptr, hi - lo, scale, sums);
        else
            sk_sigmoid_sum(xp + lo, dp + lo, hi - lo, p[3], scale, sums);
    });
    return d;
}

// The node: forward draws the noise and computes the term and its derivative in x in one
// pass; backward writes w's gradient and completes x's in place (one pass).
struct NoiseAndTerm : public torch::autograd::Function<NoiseAndTerm> {
    static variable_list forward(AutogradContext *ctx, const at::Tensor &w, const at::Tensor &x,
                                 int64_t kind, std::vector<double> p, double scale) {
        at::Tensor out = at::empty_like(w), saved = at::empty_like(w), g_x = at::empty_like(w);
        const float *wp = w.data_ptr<float>(), *xp = x.data_ptr<float>();
        float *op = out.data_ptr<float>(), *sp = saved.data_ptr<float>(),
              *gp = g_x.data_ptr<float>();
        const uint64_t seed = torch_seed();
        std::vector<double> total = split(w.numel(), 1, [&](int64_t lo, int64_t hi, double *s) {
            if (kind == kVardrop)
                sk_vardrop_noise(wp + lo, xp + lo, nullptr, op + lo, sp + lo, gp + lo, hi - lo,
                                 scale, seed, lo, s);
            else
                sk_hardconcrete_gates(wp + lo, xp + lo, nullptr, op + lo, sp + lo, gp + lo,
                                      hi - lo, p[0], p[1], p[2], p[3], scale, seed, lo, s);
        });
        ctx->save_for_backward({w, x, saved});
        ctx->saved_data["kind"] = kind;
        ctx->saved_data["params"] = p;
        ctx->saved_data["scale"] = scale;
        ctx->saved_data["g_x"] = g_x;  // completed in place: one backward pass owns it
        return {out, scalar(scale * total[0])};
    }

    static variable_list backward(AutogradContext *ctx, variable_list grads) {
        const int64_t kind = ctx->saved_data["kind"].toInt();
        const std::vector<double> p = ctx->saved_data["params"].toDoubleVector();
        variable_list saved_vars = ctx->get_saved_variables();
        const at::Tensor &w = saved_vars[0], &x = saved_vars[1], &saved = saved_vars[2];
        at::Tensor g_x;
        if (ctx->saved_data["g_x"].isTensor()) {
            g_x = ctx->saved_data["g_x"].toTensor();
            ctx->saved_data["g_x"] = c10::IValue();
        } else {  // a second backward pass through this node (retain_graph)
            g_x = term_derivative(kind, x, p, ctx->saved_data["scale"].toDouble());
        }
        const at::Tensor g = grads[0].contiguous();
        const float g_term = *grads[1].data_ptr<float>();  // 0-d float32 CPU, as the output
        at::Tensor grad_w = at::empty_like(w);
        const float *gp = g.data_ptr<float>(), *wp = w.data_ptr<float>(),
                    *xp = x.data_ptr<float>(), *sp = saved.data_ptr<float>();
        float *dxp = g_x.data_ptr<float>(), *dwp = grad_w.data_ptr<float>();
        split(w.numel(), 0, [&](int64_t lo, int64_t hi, double *) {
            if (kind == kVardrop)
                sk_vardrop_noise_backward(gp + lo, wp + lo, xp + lo, sp + lo, dxp + lo,
                                          dwp + lo, hi - lo, g_term);
            else
                sk_hardconcrete_gates_backward(gp + lo, wp + lo, sp + lo, dxp + lo, dwp + lo,
                                               hi - lo, p[0], p[1], p[2], g_term);
        });
        variable_list result = {grad_w, g_x, at::Tensor(), at::Tensor(), at::Tensor()};
        if (at::GradMode::is_enabled() && (grads[0].requires_grad() || grads[1].requires_grad()))
            return first_order(std::move(result));
        return result;
    }

    // As Python's once_differentiable: the gradients are values (no graph of their own), so
    // under create_graph a further backward pass through them raises instead of missing
    // this node's second derivatives.
    static variable_list first_order(variable_list result) {
        variable_list fake = {result[0].detach().requires_grad_(),
                              result[1].detach().requires_grad_()};
        torch::autograd::DelayedError err(
            "skdropout's fused noise node has first derivatives only "
            "(trying to differentiate it twice)", 2);
        variable_list wrapped = err.apply(std::move(fake));
        return {wrapped[0], wrapped[1], at::Tensor(), at::Tensor(), at::Tensor()};
    }
};

std::tuple<at::Tensor, at::Tensor> vardrop_noise(const at::Tensor &w, const at::Tensor &log_alpha,
                                                 double scale) {
    check_inputs(w, log_alpha, "vardrop_noise");
    variable_list r = NoiseAndTerm::apply(w, log_alpha, int64_t(kVardrop),
                                          std::vector<double>(), scale);
    return {r[0], r[1]};
}

std::tuple<at::Tensor, at::Tensor> hardconcrete_gates(const at::Tensor &w,
                                                      const at::Tensor &log_a, double beta,
                                                      double gamma, double zeta, double shift,
                                                      double scale) {
    check_inputs(w, log_a, "hardconcrete_gates");
    variable_list r = NoiseAndTerm::apply(w, log_a, int64_t(kHardConcrete),
                                          std::vector<double>{beta, gamma, zeta, shift}, scale);
    return {r[0], r[1]};
}

}  // namespace

TORCH_LIBRARY(skdropout, m) {
    m.def("vardrop_noise(Tensor w, Tensor log_alpha, float scale) -> (Tensor, Tensor)");
    m.def("hardconcrete_gates(Tensor w, Tensor log_a, float beta, float gamma, float zeta, "
          "float shift, float scale) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(skdropout, CompositeImplicitAutograd, m) {
    m.impl("vardrop_noise", vardrop_noise);
    m.impl("hardconcrete_gates", hardconcrete_gates);
}
