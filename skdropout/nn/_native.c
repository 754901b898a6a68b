/* Fused float32 CPU loops for the per-weight terms of skdropout.nn (see _native.py).
 *
 * Each function does in one pass over the weights what skdropout/nn/_kernels.py does with a
 * chain of torch element-wise operations, and writes the tensors the backward pass needs.
 * The loops are vectorised by the compiler (OpenMP simd); their exponentials, logarithms and
 * sines of bounded arguments are the inline functions below, the others glibc's vector math
 * library. Sums are accumulated in float per block of BLOCK entries and in double across
 * blocks. A clipped entry has no gradient; the clip bounds are inclusive, as for
 * torch.clamp. NaN inputs give NaN outputs (no fast-math). */

#include <stddef.h>
#include <stdint.h>

#pragma omp declare simd notinbranch
float expf(float);
#pragma omp declare simd notinbranch
float logf(float);
#pragma omp declare simd notinbranch
float log1pf(float);
float sqrtf(float);
float fabsf(float);

#define BLOCK 1024

static inline float clipf(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* -- inline elementary functions ---------------------------------------------------------
 * For the arguments the loops can bound, inline forms of exp, log and sin/cos: a vector call
 * of glibc (which handles every float) costs more, and inline the compiler interleaves them
 * with the rest of the loop (on 235,200 weights the VARDROP loop takes 0.93 -> 0.73 ms, the
 * hard concrete one, with its beta = 2/3 form below, 0.88 -> 0.57 ms); their polynomials are
 * evaluated by Estrin's scheme (fewer dependent steps than Horner's: 3 % off both loops).
 * Largest errors against double precision over their domains, with or without FMA: exp 1.45
 * ulp, log 3.4 ulp (relative 2.6e-7), sin and cos 1e-7; tests/test_nn_kernels.py checks the
 * loops against float64 formulas. */
static inline uint32_t bits_of(float x) { uint32_t b; __builtin_memcpy(&b, &x, 4); return b; }
static inline float float_of(uint32_t b) { float x; __builtin_memcpy(&x, &b, 4); return x; }

/* 2 atanh(s) = log((1 + s)/(1 - s)) for |s| <= 1/3, the series to s^13 (the next term is
 * below 2e-8 relative). */
static inline float two_atanh(float s) {
    float s2 = s * s, s4 = s2 * s2; /* Estrin's scheme in s^2 */
    float p = (1.0f + s2 * (1.0f / 3.0f)) +
              s4 * ((1.0f / 5.0f + s2 * (1.0f / 7.0f)) +
                    s4 * ((1.0f / 9.0f + s2 * (1.0f / 11.0f)) + s4 * (1.0f / 13.0f)));
    return 2.0f * s * p;
}

/* exp(x) for x in [-87, 88] (NaN gives NaN): x = n ln 2 + r with n the nearest integer to
 * x / ln 2 (rounded by adding 1.5 * 2^23, which also leaves n in the low bits) and |r| <=
 * ln 2 / 2 (ln 2 in two parts, n ln 2_hi exact), exp(r) by a degree-6 polynomial fitted at
 * Chebyshev nodes (relative error 1.8e-8), times 2^n built from its bits. */
static inline float exp_bounded(float x) {
    const float shifter = 0x1.8p23f;
    float k = x * 0x1.715476p+0f + shifter;
    float n = k - shifter;
    float r = x - n * 0x1.62e4p-1f;
    r = r - n * 0x1.7f7d1cp-20f;
    float r2 = r * r; /* Estrin's scheme: three dependent steps, not six */
    float hi = (0x1.5558e2p-5f + r * 0x1.126cacp-7f) + r2 * 0x1.6a87acp-10f;
    float p = (1.0f + r) + r2 * ((0x1.fffffap-2f + r * 0x1.55540cp-3f) + r2 * hi);
    return p * float_of((bits_of(k) << 23) + 0x3f800000u);
}

/* log(x) for positive normal x (inf and NaN give themselves): x = m 2^e with m in
 * [sqrt(1/2), sqrt(2)), log m = 2 atanh((m - 1)/(m + 1)). */
static inline float log_positive(float x) {
    uint32_t b = bits_of(x);
    int32_t e = (int32_t)(b - 0x3f3504f3u) >> 23; /* 0x3f3504f3: sqrt(1/2) */
    float m = float_of(b - ((uint32_t)e << 23));
    float y = (float)e * 0x1.62e43p-1f + two_atanh((m - 1.0f) / (m + 1.0f));
    return x <= 0x1.fffffep127f ? y : x;
}

/* sin and cos of 2 pi u for u in [0, 1]: 4u = q + f with q the nearest integer (exact) and
 * |f| <= 1/2, a = f pi/2 in [-pi/4, pi/4], the Taylor series of sin a to a^9 and of cos a to
 * a^10 (errors below 2e-9), and the quadrant q mod 4 by exchanging and negating them. */
static inline void sincos_turn(float u, float *s, float *c) {
    float x = 4.0f * u;
    float q = (x + 0x1.8p23f) - 0x1.8p23f;
    float a = (x - q) * 1.5707963267948966f, a2 = a * a;
    float sa = 1.0f / 362880.0f;
    sa = sa * a2 - 1.0f / 5040.0f;
    sa = sa * a2 + 1.0f / 120.0f;
    sa = sa * a2 - 1.0f / 6.0f;
    sa = a + a * a2 * sa;
    float ca = -1.0f / 3628800.0f;
    ca = ca * a2 + 1.0f / 40320.0f;
    ca = ca * a2 - 1.0f / 720.0f;
    ca = ca * a2 + 1.0f / 24.0f;
    ca = ca * a2 - 0.5f;
    ca = ca * a2 + 1.0f;
    int iq = (int)q;
    float sn = (iq & 1) ? ca : sa, cs = (iq & 1) ? sa : ca;
    *s = (iq & 2) ? -sn : sn;
    *c = ((iq + 1) & 2) ? -cs : cs;
}

/* -- counter-based random numbers ------------------------------------------------------
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
 * ten rounds of two 32x32 -> 64-bit products keyed by the 64-bit seed. Entry i of a block of
 * BLOCK entries takes lane i / G of the output of counter (block * G + i % G) with G =
 * BLOCK / 4, so every entry has its own counter, the draws do not depend on how the entries
 * are split between threads (splits fall on block boundaries), and the loop over counters
 * writes four contiguous runs (vectorised). */
#define G (BLOCK / 4)

int sk_block_size(void) { return BLOCK; }

void sk_philox4x32(const uint32_t *ctr, const uint32_t *key, uint32_t *out) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0; c1 = (uint32_t)p1; c2 = n2; c3 = (uint32_t)p0;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* The uniform in (0, 1] (24 bits) of one 32-bit output. */
static inline float to_uniform(uint32_t c) { return (float)((c >> 8) + 1u) * 0x1p-24f; }

#if defined(__AVX2__)
#include <immintrin.h>

/* hi and lo words of the eight 32x32 -> 64-bit products a * m (even and odd lanes). */
static inline void mulhilo8(__m256i a, __m256i m, __m256i *hi, __m256i *lo) {
    __m256i even = _mm256_mul_epu32(a, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

static inline __m256 to_uniform8(__m256i c) {
    __m256i v = _mm256_add_epi32(_mm256_srli_epi32(c, 8), _mm256_set1_epi32(1));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(0x1p-24f));
}

/* The BLOCK uniforms in (0, 1] of block number `block` under `seed`: the loop below with
 * AVX2 integer products, two groups of eight counters at a time (the compiler's
 * vectorisation of the 64-bit products is about 3.5 times slower). Same output. */
static void uniform_block(float *u, uint64_t block, uint64_t seed) {
    const __m256i m0 = _mm256_set1_epi32((int)0xD2511F53u);
    const __m256i m1 = _mm256_set1_epi32((int)0xCD9E8D57u);
    __m256i rk0[10], rk1[10];
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        rk0[r] = _mm256_set1_epi32((int)k0);
        rk1[r] = _mm256_set1_epi32((int)k1);
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), eight = _mm256_set1_epi32(8);
    for (long g = 0; g < G; g += 16) {
        uint64_t ctr = block * G + (uint64_t)g; /* a multiple of 16: no carry into word 1 */
        __m256i a0 = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)ctr), lane);
        __m256i b0 = _mm256_add_epi32(a0, eight);
        __m256i a1 = _mm256_set1_epi32((int)(uint32_t)(ctr >> 32)), b1 = a1;
        __m256i a2 = _mm256_setzero_si256(), a3 = a2, b2 = a2, b3 = a2;
        for (int r = 0; r < 10; r++) {
            __m256i ha0, la0, hb0, lb0, ha2, la2, hb2, lb2;
            mulhilo8(a0, m0, &ha0, &la0);
            mulhilo8(b0, m0, &hb0, &lb0);
            mulhilo8(a2, m1, &ha2, &la2);
            mulhilo8(b2, m1, &hb2, &lb2);
            a0 = _mm256_xor_si256(_mm256_xor_si256(ha2, a1), rk0[r]);
            b0 = _mm256_xor_si256(_mm256_xor_si256(hb2, b1), rk0[r]);
            a2 = _mm256_xor_si256(_mm256_xor_si256(ha0, a3), rk1[r]);
            b2 = _mm256_xor_si256(_mm256_xor_si256(hb0, b3), rk1[r]);
            a1 = la2; b1 = lb2; a3 = la0; b3 = lb0;
        }
        _mm256_storeu_ps(u + g, to_uniform8(a0));
        _mm256_storeu_ps(u + g + 8, to_uniform8(b0));
        _mm256_storeu_ps(u + G + g, to_uniform8(a1));
        _mm256_storeu_ps(u + G + g + 8, to_uniform8(b1));
        _mm256_storeu_ps(u + 2 * G + g, to_uniform8(a2));
        _mm256_storeu_ps(u + 2 * G + g + 8, to_uniform8(b2));
        _mm256_storeu_ps(u + 3 * G + g, to_uniform8(a3));
        _mm256_storeu_ps(u + 3 * G + g + 8, to_uniform8(b3));
    }
}
#else
/* The BLOCK uniforms in (0, 1] (24 bits) of block number `block` under `seed`. */
static void uniform_block(float *u, uint64_t block, uint64_t seed) {
    const uint32_t key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);
#pragma omp simd
    for (long g = 0; g < G; g++) {
        uint64_t ctr = block * G + (uint64_t)g;
        uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = 0, c3 = 0;
        uint32_t k0 = key0, k1 = key1;
        for (int r = 0; r < 10; r++) {
            uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
            c0 = n0; c1 = (uint32_t)p1; c2 = n2; c3 = (uint32_t)p0;
            k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
        }
        u[g] = to_uniform(c0);
        u[G + g] = to_uniform(c1);
        u[2 * G + g] = to_uniform(c2);
        u[3 * G + g] = to_uniform(c3);
    }
}
#endif

/* Standard normals of block `block` by Box-Muller on pairs of its uniforms: entries g and
 * G + g from the first two lanes, 2G + g and 3G + g from the other two. */
static void normal_block(float *z, uint64_t block, uint64_t seed) {
    uniform_block(z, block, seed);
    float *restrict u0 = z, *restrict u1 = z + G, *restrict u2 = z + 2 * G,
          *restrict u3 = z + 3 * G;
#pragma omp simd
    for (long g = 0; g < G; g++) {
        float r0 = sqrtf(-2.0f * log_positive(u0[g])), r1 = sqrtf(-2.0f * log_positive(u2[g]));
        float s0, c0, s1, c1;
        sincos_turn(u1[g], &s0, &c0);
        sincos_turn(u3[g], &s1, &c1);
        u0[g] = r0 * c0;
        u1[g] = r0 * s0;
        u2[g] = r1 * c1;
        u3[g] = r1 * s1;
    }
}

/* The draws for the block of entries that starts at b: the given ones (given != NULL), or
 * that block of the uniform (normal == 0) or normal stream of `seed`, written to buf; start
 * is the global index of entry 0, a multiple of BLOCK. */
static const float *block_draws(const float *given, float *buf, long b, int normal,
                                uint64_t seed, long start) {
    if (given) return given + b;
    if (normal) normal_block(buf, (uint64_t)(start + b) / BLOCK, seed);
    else uniform_block(buf, (uint64_t)(start + b) / BLOCK, seed);
    return buf;
}

/* Entries [start, start + n) of the stream of uniforms (sk_uniform) or standard normals
 * (sk_normal) of `seed`. */
static void stream(float *out, long n, int normal, uint64_t seed, long start) {
    float buf[BLOCK];
    for (long b = 0; b < n; b += BLOCK) {
        long m = b + BLOCK < n ? BLOCK : n - b;
        const float *d = block_draws(NULL, buf, b, normal, seed, start);
        for (long i = 0; i < m; i++) out[b + i] = d[i];
    }
}

void sk_uniform(float *out, long n, uint64_t seed, long start) { stream(out, n, 0, seed, start); }

void sk_normal(float *out, long n, uint64_t seed, long start) { stream(out, n, 1, seed, start); }

/* Molchanov et al. (2017), eq. (14), the approximation of -KL, and the log alpha clipping. */
static const float K1 = 0.63576f, K2 = 1.87320f, K3 = 1.48695f;
static const float LA_MIN = -10.0f, LA_MAX = 10.0f;

/* KL of the clipped log alpha la from alpha = exp(la) (at most e^10), KL = k1 t +
 * log1p(1/alpha)/2 with t = sigmoid(-(k2 + k3 la)), and (*d) its derivative -k1 k3 t (1 - t)
 * - (1 - p)/2 with 1 - p = 1 / (1 + alpha), without cancellation: log1p(1/alpha) =
 * max(-la, 0) + log1p(m), m = min(alpha, 1/alpha), from s = m / (2 + m), which is
 * alpha / (2 + alpha) for la < 0 and 1 / (1 + 2 alpha) above. */
static inline float kl_term_alpha(float la, float alpha, float *d) {
    float t = 1.0f / (1.0f + exp_bounded(K2 + K3 * la));
    /* one division: (alpha, 2 + alpha) below 0, (1, 1 + 2 alpha) above, from a min and a
     * max (a select of the two quotients costs two) */
    float s = (alpha < 1.0f ? alpha : 1.0f) / (1.0f + alpha + (alpha > 1.0f ? alpha : 1.0f));
    *d = -K1 * K3 * t * (1.0f - t) - 0.5f / (1.0f + alpha);
    return K1 * t + 0.5f * ((la < 0.0f ? -la : 0.0f) + two_atanh(s));
}

static inline float kl_term(float la, float *d) { return kl_term_alpha(la, exp_bounded(la), d); }

/* sum_j KL_j of log alpha = clip(first) (theta NULL) or clip(first - log(theta^2 + 1e-16))
 * (additive reparameterisation); writes scale dKL/dfirst (0 where clipped) and, with theta,
 * scale dKL/dtheta. */
void sk_vardrop_kl(const float *first, const float *theta, float *d_first, float *d_theta,
                   long n, float scale, double *sums) {
    double total = 0.0;
    for (long b = 0; b < n; b += BLOCK) {
        long end = b + BLOCK < n ? b + BLOCK : n;
        float part = 0.0f;
        if (theta == NULL) {
#pragma omp simd reduction(+ : part)
            for (long i = b; i < end; i++) {
                float la = clipf(first[i], LA_MIN, LA_MAX), d;
                part += kl_term(la, &d);
                d_first[i] = (la == first[i] ? scale : 0.0f) * d;
            }
        } else {
#pragma omp simd reduction(+ : part)
            for (long i = b; i < end; i++) {
                float th2 = theta[i] * theta[i] + 1e-16f;
                float raw = first[i] - log_positive(th2);
                float la = clipf(raw, LA_MIN, LA_MAX), d;
                part += kl_term(la, &d);
                d *= la == raw ? scale : 0.0f;
                d_first[i] = d;
                d_theta[i] = -2.0f * d * theta[i] / th2;
            }
        }
        total += part;
    }
    sums[0] = total;
}

/* VARDROP without tricks, forward: the noisy weights w (1 + sqrt(alpha) eps), alpha =
 * exp(clip(log_alpha)), and the layer's KL term in one pass. Writes out, scaled = sqrt(alpha)
 * eps (for the backward pass) and g_la = scale dKL/dlog alpha (0 where clipped); sums[0] =
 * sum KL. eps are the given standard normals, or (eps NULL) entries [start, start + n) of
 * the normal stream of `seed`. */
void sk_vardrop_noise(const float *w, const float *log_alpha, const float *eps, float *out,
                      float *scaled, float *g_la, long n, float scale, uint64_t seed, long start,
                      double *sums) {
    float buf[BLOCK];
    double total = 0.0;
    for (long b = 0; b < n; b += BLOCK) {
        long end = b + BLOCK < n ? b + BLOCK : n;
        const float *e = block_draws(eps, buf, b, 1, seed, start);
        float part = 0.0f;
#pragma omp simd reduction(+ : part)
        for (long i = b; i < end; i++) {
            float la = clipf(log_alpha[i], LA_MIN, LA_MAX), d;
            float root = exp_bounded(0.5f * la); /* sqrt(alpha) */
            float sc = root * e[i - b];
            out[i] = w[i] * (1.0f + sc);
            scaled[i] = sc;
            part += kl_term_alpha(la, root * root, &d);
            g_la[i] = (la == log_alpha[i] ? scale : 0.0f) * d;
        }
        total += part;
    }
    sums[0] = total;
}

/* VARDROP without tricks, backward, from the incoming gradient g of the noisy weights and
 * g_kl of the KL term: grad_w = g (1 + scaled) and, in place of g_la, g_kl g_la +
 * g w scaled / 2 (the noise's part 0 where log alpha is clipped). */
void sk_vardrop_noise_backward(const float *g, const float *w, const float *log_alpha,
                               const float *scaled, float *g_la, float *grad_w, long n,
                               float g_kl) {
#pragma omp simd
    for (long i = 0; i < n; i++) {
        float la = clipf(log_alpha[i], LA_MIN, LA_MAX);
        grad_w[i] = g[i] * (1.0f + scaled[i]);
        float half = la == log_alpha[i] ? 0.5f : 0.0f; /* as a factor: no branch */
        g_la[i] = g_kl * g_la[i] + half * g[i] * w[i] * scaled[i];
    }
}

/* alpha w^2 with alpha = exp(clip(log_alpha)); writes d/dlog alpha (= the variance, 0 where
 * clipped) and d/dw = 2 alpha w. */
void sk_local_variance(const float *log_alpha, const float *w, float *var, float *d_la,
                       float *d_w, long n) {
#pragma omp simd
    for (long i = 0; i < n; i++) {
        float la = clipf(log_alpha[i], LA_MIN, LA_MAX);
        float inside = la == log_alpha[i] ? 1.0f : 0.0f;
        float alpha = exp_bounded(la);
        float v = alpha * w[i] * w[i];
        var[i] = v;
        d_la[i] = inside * v;
        d_w[i] = 2.0f * alpha * w[i];
    }
}

/* P(s > 0) = sigmoid(x - shift) of a hard concrete gate with log a = x (eq. 21) and (*d) its
 * derivative p (1 - p), both from e = exp(-|x - shift|) (at least e^-87; written to *e),
 * which cannot overflow. */
static inline float open_prob(float x, float shift, float *d, float *e) {
    float y = x - shift;
    *e = exp_bounded(clipf(-fabsf(y), -87.0f, 0.0f));
    float r = 1.0f / (1.0f + *e);
    *d = *e * r * r;
    return y < 0.0f ? *e * r : r;
}

/* The concrete variable z = sigmoid((logit(uc) + x)/beta) of a gate with log a = x, from uc
 * in [1e-6, 1 - 1e-6] and open_prob's e. For beta = 2/3 (three_halves; Louizos et al.'s
 * value) z = 1/(1 + q^(3/2)) with q = exp(-logit(uc) - x) = (1 - uc)/uc exp(-shift) e^(+-1)
 * (c = exp(-shift); e^(+-1) = exp(shift - x)): a square root in place of a logarithm and an
 * exponential. q overflows to inf only where z is below float's range (z = 0). */
static inline float concrete_z(float uc, float x, float shift, float e, float c, float inv_beta,
                               int three_halves) {
    if (three_halves) {
        int below = x < shift;
        float q = (1.0f - uc) * c * (below ? 1.0f : e) / (uc * (below ? e : 1.0f));
        return 1.0f / (1.0f + q * sqrtf(q));
    }
    return 1.0f / (1.0f + expf(-(logf(uc / (1.0f - uc)) + x) * inv_beta));
}

/* Louizos et al.'s hard concrete gate s = clip(z (zeta - gamma) + gamma, 0, 1) of eq. (20)
 * from z. */
static inline float gate_of(float z, float gamma, float span) {
    return clipf(z * span + gamma, 0.0f, 1.0f);
}

/* The blocks of sk_hardconcrete_gates, inlined into it once for each value of
 * three_halves (a test of it inside the loop would be if-converted: both forms computed). */
static inline __attribute__((always_inline)) double gates_blocks(
    const float *w, const float *log_a, const float *u, float *out, float *z_out, float *g_la,
    long n, float inv_beta, float gamma, float span, float shift, float scale, uint64_t seed,
    long start, int three_halves) {
    const float c = expf(-shift); /* once per call: any shift */
    float buf[BLOCK];
    double total = 0.0;
    for (long b = 0; b < n; b += BLOCK) {
        long end = b + BLOCK < n ? b + BLOCK : n;
        const float *v = block_draws(u, buf, b, 0, seed, start);
        float part = 0.0f;
#pragma omp simd reduction(+ : part)
        for (long i = b; i < end; i++) {
            float uc = clipf(v[i - b], 1e-6f, 1.0f - 1e-6f), d, e;
            part += open_prob(log_a[i], shift, &d, &e);
            g_la[i] = scale * d;
            float z = concrete_z(uc, log_a[i], shift, e, c, inv_beta, three_halves);
            z_out[i] = z;
            out[i] = w[i] * gate_of(z, gamma, span);
        }
        total += part;
    }
    return total;
}

/* HARDCONCRETE, forward: the gated weights w s and the layer's expected number of open
 * gates in one pass. z = concrete_z of u clipped to [1e-6, 1 - 1e-6] and s = gate_of(z);
 * writes out = w s, z (for the backward pass) and g_la = scale dP(s > 0)/dlog a; sums[0] =
 * sum P(s > 0) (shift = beta log(-gamma/zeta)). u are the given uniforms, or (u NULL)
 * entries [start, start + n) of the uniform stream of `seed`. */
void sk_hardconcrete_gates(const float *w, const float *log_a, const float *u, float *out,
                           float *z_out, float *g_la, long n, float beta, float gamma,
                           float zeta, float shift, float scale, uint64_t seed, long start,
                           double *sums) {
    const float inv_beta = 1.0f / beta, span = zeta - gamma;
    sums[0] = inv_beta == 1.5f
                  ? gates_blocks(w, log_a, u, out, z_out, g_la, n, inv_beta, gamma, span, shift,
                                 scale, seed, start, 1)
                  : gates_blocks(w, log_a, u, out, z_out, g_la, n, inv_beta, gamma, span, shift,
                                 scale, seed, start, 0);
}

/* HARDCONCRETE, backward, from the incoming gradient g of the gated weights and g_p of the
 * count: grad_w = g s and, in place of g_la, g_p g_la + g w ds/dlog a with ds/dlog a =
 * (zeta - gamma) z (1 - z) / beta (0 where the gate is clipped). */
void sk_hardconcrete_gates_backward(const float *g, const float *w, const float *z,
                                    float *g_la, float *grad_w, long n, float beta,
                                    float gamma, float zeta, float g_p) {
    const float span = zeta - gamma, k = (zeta - gamma) / beta;
#pragma omp simd
    for (long i = 0; i < n; i++) {
        float raw = z[i] * span + gamma, si = gate_of(z[i], gamma, span);
        grad_w[i] = g[i] * si;
        float slope = si == raw ? k : 0.0f; /* as a factor: no branch */
        g_la[i] = g_p * g_la[i] + slope * z[i] * (1.0f - z[i]) * w[i] * g[i];
    }
}

/* sum_j sigmoid(x_j - shift) (the expected number of open hard concrete gates, eq. 21) and
 * its derivative p (1 - p) times scale. */
void sk_sigmoid_sum(const float *x, float *d, long n, float shift, float scale, double *sums) {
    double total = 0.0;
    for (long b = 0; b < n; b += BLOCK) {
        long end = b + BLOCK < n ? b + BLOCK : n;
        float part = 0.0f;
#pragma omp simd reduction(+ : part)
        for (long i = b; i < end; i++) {
            float dp, e;
            part += open_prob(x[i], shift, &dp, &e);
            d[i] = scale * dp;
        }
        total += part;
    }
    sums[0] = total;
}

/* The eta-trick objective of eq. (6) with LOGSUM(eps): eta = lam exp(clip(lev, -30, 30)),
 * a = 2 eta / q with q = sqrt(eps^2 + 4 eta) + eps (a^2 + eps a = eta), Omega(a) =
 * log1p(a/eps), diff = (a^2 - w^2)/eta. Writes the gradients in w, lam w/eta, and in lev,
 * lam (diff/2 + decay) (0 where lev is clipped); sums = (sum Omega, sum diff,
 * sum clip(lev)). */
void sk_eta_logsum(const float *w, const float *lev, float *lam_w_over_eta, float *d_lev, long n,
                   float lam, float eps, float decay, double *sums) {
    const float inv_eps = 1.0f / eps;
    double s_omega = 0.0, s_diff = 0.0, s_lev = 0.0;
    for (long b = 0; b < n; b += BLOCK) {
        long end = b + BLOCK < n ? b + BLOCK : n;
        float p_omega = 0.0f, p_diff = 0.0f, p_lev = 0.0f;
#pragma omp simd reduction(+ : p_omega, p_diff, p_lev)
        for (long i = b; i < end; i++) {
            float l = clipf(lev[i], -30.0f, 30.0f);
            float inside = l == lev[i] ? 1.0f : 0.0f;
            float eta = lam * exp_bounded(l);
            float r = 1.0f / (sqrtf(eps * eps + 4.0f * eta) + eps); /* 1/q */
            float a = 2.0f * eta * r;
            float woe = w[i] / eta;
            float diff = 2.0f * a * r - w[i] * woe;
            lam_w_over_eta[i] = lam * woe;
            d_lev[i] = lam * inside * (0.5f * diff + decay);
            p_omega += log1pf(a * inv_eps);
            p_diff += diff;
            p_lev += l;
        }
        s_omega += p_omega;
        s_diff += p_diff;
        s_lev += p_lev;
    }
    sums[0] = s_omega;
    sums[1] = s_diff;
    sums[2] = s_lev;
}
