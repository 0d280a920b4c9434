#!/usr/bin/python3
"""Reference values for the clustering tests (tests/analysis/test_gaussian_mixture.cpp,
test_kmeans.cpp, test_cluster_metrics.cpp), computed with scikit-learn.

Writes tests/data/cluster/reference.json: small fixed data sets (inputs rounded to 4 decimals,
so that the C++ side reads exactly the values the references were computed from) and:
  gmm         sklearn.mixture.GaussianMixture for each covariance type, started from given
              weights_init / means_init / precisions_init (so no random start is involved),
              at the default tol=1e-3 and at tol=1e-10: weights_, means_, covariances_,
              lower_bound_, n_iter_, converged_, bic(X), predict(X), score_samples and
              predict_proba of the first 25 rows, and _n_parameters(). The inverse of each
              precisions_init is stored too, to start cellvae from covariances. Data: 3
              separated blobs in 2-D and 4-D, and 4 overlapping blobs in 3-D (EM then takes
              tens of iterations).
  bic_table   GaussianMixture(K, type, n_init=5, random_state=0).bic(X) for K = 1..5 and every
              type on the 2-D blobs (random k-means starts: a statistical reference, the best
              candidate is the one that must agree).
  kmeans      sklearn.cluster.KMeans(init=<array>, n_init=1, algorithm="lloyd") on the same
              three data sets: labels_,
              cluster_centers_, inertia_, n_iter_ (also with max_iter=2: stopped early).
  metrics     sklearn.metrics.adjusted_rand_score and normalized_mutual_info_score
              (average_method="arithmetic") on label pairs, edge cases included.

Run with Debian's python3 (python3-numpy, python3-sklearn):
    /usr/bin/python3 tests/reference/make_cluster_reference.py
"""
import json
import os
import platform
import sys
import warnings

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.mixture import GaussianMixture

SEED = 20240815
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "cluster",
                   "reference.json")
TYPES = ["full", "diag", "spherical", "tied"]
SCORED = 25  # rows whose score_samples / predict_proba are stored


def lst(a):
    return np.asarray(a).tolist()


def r4(a):
    return np.round(a, 4)


def blobs(rng, sizes, means, scales):
    """Gaussian blobs with random rotations: component c has covariance R diag(scales[c]^2) R^T."""
    xs, ys = [], []
    d = len(means[0])
    for c, (m, s, size) in enumerate(zip(means, scales, sizes)):
        q, _ = np.linalg.qr(rng.normal(0, 1, (d, d)))
        xs.append(rng.normal(0, 1, (size, d)) * np.asarray(s) @ q.T + np.asarray(m))
        ys.append(np.full(size, c))
    return r4(np.vstack(xs)), np.concatenate(ys)


def data_sets(rng):
    x2, y2 = blobs(rng, [150, 90, 60], [[0, 0], [6, 1], [2, 7]],
                   [[1.5, 0.5], [1.0, 0.8], [0.7, 0.7]])
    x4, y4 = blobs(rng, [100, 80, 60], [[0, 0, 0, 0], [5, 0, 3, 0], [0, 6, 0, -4]],
                   [[1.2, 1.0, 0.6, 0.4], [1.0, 1.0, 1.0, 1.0], [0.5, 0.9, 0.7, 1.3]])
    # Overlapping: Lloyd and EM need many iterations.
    x3, y3 = blobs(rng, [80, 70, 60, 50], [[0, 0, 0], [2, 0, 0], [0, 2, 1], [2, 2, -1]],
                   [[1, 1, 1], [1.2, 0.8, 1], [0.9, 0.9, 0.9], [1, 1, 0.6]])
    return {"blobs2": (x2, y2), "blobs4": (x4, y4), "overlap3": (x3, y3)}


def start_for(x, y, cov_type, rng):
    """A deliberately rough start: equal weights, class means moved by N(0, 1), and unit
    precisions scaled per component, in the shape of cov_type."""
    k, d = y.max() + 1, x.shape[1]
    weights = np.full(k, 1.0 / k)
    means = r4(np.array([x[y == c].mean(0) for c in range(k)]) + rng.normal(0, 1.0, (k, d)))
    scale = np.round(rng.uniform(0.5, 2.0, k), 3)
    if cov_type == "full":
        prec = np.array([np.eye(d) * s for s in scale])
        prec[:, 0, 1] = prec[:, 1, 0] = 0.1 * scale  # not diagonal, still positive definite
        cov = np.linalg.inv(prec)
    elif cov_type == "tied":
        prec = np.eye(d) * scale[0]
        prec[0, 1] = prec[1, 0] = 0.1 * scale[0]
        cov = np.linalg.inv(prec)
    elif cov_type == "diag":
        prec = np.outer(scale, np.linspace(0.8, 1.2, d))
        cov = 1.0 / prec
    else:
        prec = scale
        cov = 1.0 / prec
    return weights, means, prec, cov


def gmm_reference(sets, rng):
    out = []
    for name, (x, y) in sets.items():
        for cov_type in TYPES:
            w0, m0, p0, c0 = start_for(x, y, cov_type, rng)
            for tol, max_iter in ((1e-3, 100), (1e-10, 1000)):
                with warnings.catch_warnings():
                    warnings.simplefilter("error", ConvergenceWarning)
                    g = GaussianMixture(len(w0), covariance_type=cov_type, tol=tol,
                                        max_iter=max_iter, weights_init=w0, means_init=m0,
                                        precisions_init=p0, random_state=0).fit(x)
                out.append({
                    "data": name, "covariance_type": cov_type, "tol": tol,
                    "max_iter": max_iter, "reg_covar": g.reg_covar,
                    "weights_init": lst(w0), "means_init": lst(m0),
                    "precisions_init": lst(p0), "covariances_init": lst(c0),
                    "weights": lst(g.weights_), "means": lst(g.means_),
                    "covariances": lst(g.covariances_), "lower_bound": float(g.lower_bound_),
                    "n_iter": int(g.n_iter_), "converged": bool(g.converged_),
                    "bic": float(g.bic(x)), "n_parameters": int(g._n_parameters()),
                    "log_likelihood": float(g.score(x) * len(x)),
                    "score_samples": lst(g.score_samples(x[:SCORED])),
                    "predict_proba": lst(g.predict_proba(x[:SCORED])),
                    "predict": lst(g.predict(x)),
                })
    return out


def bic_table(x):
    rows = []
    for k in range(1, 6):
        for cov_type in TYPES:
            g = GaussianMixture(k, covariance_type=cov_type, n_init=5, random_state=0).fit(x)
            rows.append({"components": k, "covariance_type": cov_type, "bic": float(g.bic(x)),
                         "n_parameters": int(g._n_parameters())})
    return rows


def kmeans_reference(sets, rng):
    out = []
    cases = [("blobs2", 3, 300), ("blobs4", 3, 300), ("overlap3", 4, 300), ("overlap3", 4, 2)]
    for name, k, max_iter in cases:
        x = sets[name][0]
        init = x[rng.choice(len(x), k, replace=False)]
        km = KMeans(k, init=init, n_init=1, max_iter=max_iter, tol=1e-4,
                    algorithm="lloyd").fit(x)
        out.append({"data": name, "k": k, "max_iter": max_iter, "tol": 1e-4, "init": lst(init),
                    "labels": lst(km.labels_), "centers": lst(km.cluster_centers_),
                    "inertia": float(km.inertia_), "n_iter": int(km.n_iter_)})
    return out


def metrics_reference(rng):
    a = rng.integers(0, 3, 60)
    b = rng.integers(0, 4, 60)
    noisy = a.copy()
    flip = rng.choice(60, 12, replace=False)
    noisy[flip] = rng.integers(0, 3, 12)
    pairs = [
        ("random", a, b),
        ("noisy copy", a, noisy),
        ("permuted names", a, (a + 1) % 3 * 7 - 5),  # same partition, other (negative) labels
        ("one cluster vs three", np.zeros(60, int), a),
        ("both one cluster", np.zeros(10, int), np.full(10, 4)),
        ("all singletons", np.arange(8), np.arange(8)[::-1]),
        ("singletons vs one cluster", np.arange(8), np.zeros(8, int)),
        ("small", np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 1, 2, 2, 2])),
    ]
    return [{"name": n, "a": lst(p), "b": lst(q), "ari": float(adjusted_rand_score(p, q)),
             "nmi": float(normalized_mutual_info_score(p, q, average_method="arithmetic"))}
            for n, p, q in pairs]


def main():
    rng = np.random.default_rng(SEED)
    sets = data_sets(rng)
    ref = {
        "provenance": {
            "script": "tests/reference/make_cluster_reference.py",
            "python": platform.python_version(), "numpy": np.__version__,
            "sklearn": sklearn.__version__, "seed": SEED,
        },
        "data": {name: {"x": lst(x), "labels": lst(y)} for name, (x, y) in sets.items()},
    }
    ref["gmm"] = gmm_reference(sets, rng)
    ref["bic_table"] = bic_table(sets["blobs2"][0])
    ref["kmeans"] = kmeans_reference(sets, rng)
    ref["metrics"] = metrics_reference(rng)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(ref, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
