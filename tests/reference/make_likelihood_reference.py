#!/usr/bin/python3
"""Reference log-probabilities for cellvae's observation models (tests/model/test_likelihood*.cpp).

Independent of cellvae: Poisson, negative binomial and Gaussian log-densities come from
scipy.stats (nbinom with n = theta, p = theta / (theta + mu)); the zero-inflated models are
built by formula from those scipy pmfs (pi = expit(zero_logit)); Bernoulli is the binary
cross-entropy formula x log p + (1 - x) log(1 - p). Every parameter is rounded to float32 first
so that the same fixture serves the float and the double tests.

Run with Debian's python3 (numpy, scipy):
    /usr/bin/python3 tests/reference/make_likelihood_reference.py
writes tests/data/model/likelihood_reference.json.
"""
import itertools
import json
import os
import platform

import numpy as np
import scipy
from scipy import special, stats

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "model", "likelihood_reference.json")


def f32(v):
    return float(np.float32(v))


def nb_logpmf(x, mu, theta):
    return float(stats.nbinom.logpmf(x, theta, theta / (theta + mu)))


def zero_inflated(logpmf_x, logpmf_0, x, z):
    log_pi = float(special.log_expit(z))
    log_1mpi = float(special.log_expit(-z))
    if x == 0:
        return float(np.logaddexp(log_pi, log_1mpi + logpmf_0))
    return log_1mpi + logpmf_x


cases = []
counts = [0, 1, 3, 10, 57, 1000, 10000]
means = [1e-3, 0.25, 2.0, 40.0, 5000.0]
thetas = [1e-4, 0.05, 1.0, 13.5, 1e3, 1e6]
logits = [-20.0, -2.0, 0.0, 1.5, 20.0]

for x, mu in itertools.product(counts, means):
    mu = f32(mu)
    cases.append({"kind": "poisson", "x": x, "mean": mu,
                  "logp": float(stats.poisson.logpmf(x, mu))})
    for theta in thetas:
        theta = f32(theta)
        cases.append({"kind": "nb", "x": x, "mean": mu, "theta": theta,
                      "logp": nb_logpmf(x, mu, theta)})
    for z in logits:
        z = f32(z)
        lp = zero_inflated(stats.poisson.logpmf(x, mu), stats.poisson.logpmf(0, mu), x, z)
        cases.append({"kind": "zip", "x": x, "mean": mu, "zero_logit": z, "logp": lp})
        for theta in [1e-4, 1.0, 1e6]:
            theta = f32(theta)
            lp = zero_inflated(nb_logpmf(x, mu, theta), nb_logpmf(0, mu, theta), x, z)
            cases.append({"kind": "zinb", "x": x, "mean": mu, "theta": theta,
                          "zero_logit": z, "logp": lp})

for x, mean, log_sd in itertools.product([-3.0, 0.0, 0.5, 7.25], [-1.0, 0.0, 2.5],
                                         [-4.0, -0.5, 0.0, 1.0, 3.0]):
    x, mean, log_sd = f32(x), f32(mean), f32(log_sd)
    cases.append({"kind": "gaussian", "x": x, "mean": mean, "log_scale": log_sd,
                  "logp": float(stats.norm.logpdf(x, loc=mean, scale=np.exp(np.float64(log_sd))))})

for x, p in itertools.product([0.0, 0.3, 1.0], [1e-6, 0.02, 0.5, 0.9, 1 - 1e-6]):
    x, p = f32(x), f32(p)
    cases.append({"kind": "bernoulli", "x": x, "mean": p,
                  "logp": float(x * np.log(p) + (1 - x) * np.log1p(-p))})

doc = {
    "source": {
        "script": "tests/reference/make_likelihood_reference.py",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "note": "nbinom(n=theta, p=theta/(theta+mu)); ZI by formula with pi=expit(zero_logit); "
                "bernoulli = x log p + (1-x) log(1-p); parameters rounded to float32",
    },
    "cases": cases,
}
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {len(cases)} cases to {os.path.relpath(OUT)}")
