#!/usr/bin/python3
"""Reference values for the analysis tests (tests/analysis/): statistics, PCA, neighbours,
classifiers and the fidelity scores, computed with scipy and scikit-learn.

Writes tests/data/analysis/reference.json: every input (small random arrays) next to the value
an independent tool gives for it:
  ks            scipy.stats.ks_2samp(a, b).statistic (continuous, tied and identical samples)
  energy        scipy.stats.energy_distance(u, v) ** 2 in 1-D; numpy V-statistic formula in 2-D
  mmd           squared RBF MMD with the median heuristic, as ../shared/bench/fidelity.py
  auc           sklearn.metrics.roc_auc_score (scores with ties)
  spearman      scipy.stats.spearmanr / pearsonr (with ties)
  pca           sklearn.decomposition.PCA(svd_solver="full"): mean, explained variance (+ratio),
                components (each signed so that its largest-magnitude entry is positive, the
                convention cellvae documents) and the transform of new rows
  knn           sklearn.neighbors.NearestNeighbors(algorithm="brute") distances/indices and
                KNeighborsClassifier(k).predict_proba
  logistic      sklearn.linear_model.LogisticRegression(C, solver="newton-cg", tol=1e-10),
                binary and multinomial: coef, intercept, predict_proba
  forest        sklearn RandomForestClassifier(200 trees) and KNeighborsClassifier(15)
                out-of-fold ROC AUC (StratifiedKFold(5, shuffle)) over 5 seeds: mean and sd (a
                statistical reference: a forest's exact output depends on its random stream)
  fidelity      the marginal, joint (exact PCA) and memorisation scores of
                cellvae::analysis::evaluate_fidelity on two small count matrices with no
                subsampling, re-implemented here from their documented definitions with
                numpy/scipy/sklearn

Run with Debian's python3 (python3-numpy, python3-scipy, python3-sklearn):
    /usr/bin/python3 tests/reference/make_analysis_reference.py
"""
import json
import os
import platform
import sys
import warnings

import numpy as np
import scipy
import scipy.stats as st
import sklearn
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

SEED = 20240612
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analysis",
                   "reference.json")


def lst(a):
    return np.asarray(a).tolist()


def r4(a):
    """Inputs are rounded to 4 decimals before use: short JSON, and the C++ side reads exactly
    the values the references were computed from."""
    return np.round(a, 4)


def sign_convention(components):
    """Each row signed so that its entry of largest absolute value is positive."""
    idx = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(len(components)), idx])
    signs[signs == 0] = 1
    return components * signs[:, None], signs


def energy_v(x, y):
    """Energy distance and coefficient, V-statistics over all pairs (self-pairs included)."""
    def mean_dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).mean()
    exy, exx, eyy = mean_dist(x, y), mean_dist(x, x), mean_dist(y, y)
    e = 2 * exy - exx - eyy
    return e, e / (2 * exy)


def mmd_rbf(a, b):
    """As ../shared/bench/fidelity.py (biased estimate, median of positive squared distances)."""
    z = np.vstack([a, b])
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    bw = np.median(d2[d2 > 0])
    k = np.exp(-d2 / bw)
    n = len(a)
    return float(k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()), float(bw)


def statistics(rng):
    out = {}
    a, b = r4(rng.normal(0, 1, 50)), r4(rng.normal(0.3, 1.2, 70))
    ta, tb = rng.poisson(3, 40).astype(float), rng.poisson(4, 60).astype(float)
    out["ks"] = [
        {"a": lst(a), "b": lst(b), "statistic": float(st.ks_2samp(a, b).statistic)},
        {"a": lst(ta), "b": lst(tb), "statistic": float(st.ks_2samp(ta, tb).statistic)},
        {"a": lst(ta), "b": lst(ta), "statistic": float(st.ks_2samp(ta, ta).statistic)},
    ]
    u, v = r4(rng.normal(0, 1, 30)), r4(rng.normal(0.5, 2, 45))
    x2, y2 = r4(rng.normal(0, 1, (30, 2))), r4(rng.normal(0.4, 1.5, (40, 2)))
    e2, c2 = energy_v(x2, y2)
    e1v, c1v = energy_v(u[:, None], v[:, None])
    out["energy"] = {
        "u": lst(u), "v": lst(v), "distance_1d": float(st.energy_distance(u, v) ** 2),
        "coefficient_1d": float(c1v), "distance_1d_numpy": float(e1v),
        "x": lst(x2), "y": lst(y2), "distance_2d": float(e2), "coefficient_2d": float(c2),
    }
    ma, mb = r4(rng.normal(0, 1, (40, 5))), r4(rng.normal(0.3, 1, (35, 5)))
    mmd, bw = mmd_rbf(ma, mb)
    mmd_same, bw_same = mmd_rbf(ma[:20], ma[20:])
    out["mmd"] = {"a": lst(ma), "b": lst(mb), "mmd2": mmd, "bandwidth": bw,
                  "mmd2_same_distribution": mmd_same, "bandwidth_same_distribution": bw_same}
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.normal(0, 1, 60) + 0.8 * labels, 1)  # one decimal: many ties
    out["auc"] = {"labels": lst(labels), "scores": lst(scores),
                  "auc": float(roc_auc_score(labels, scores))}
    sa = np.round(rng.normal(0, 1, 40), 1)
    sb = np.round(sa + rng.normal(0, 1, 40), 1)
    out["spearman"] = {"a": lst(sa), "b": lst(sb),
                       "spearman": float(st.spearmanr(sa, sb).correlation),
                       "pearson": float(st.pearsonr(sa, sb)[0]),
                       "ranks_a": lst(st.rankdata(sa))}
    return out


def pca_reference(rng):
    n, d, k = 100, 20, 5
    latent = rng.normal(0, 1, (n, 4)) * np.array([5.0, 3.0, 2.0, 1.0])
    x = r4(latent @ rng.normal(0, 1, (4, d)) + rng.normal(0, 0.3, (n, d)) + rng.normal(2, 1, d))
    new = r4(rng.normal(0, 1, (10, d)) * 2)
    pca = PCA(n_components=k, svd_solver="full").fit(x)
    comps, signs = sign_convention(pca.components_)
    return {"x": lst(x), "new": lst(new), "n_components": k, "mean": lst(pca.mean_),
            "explained_variance": lst(pca.explained_variance_),
            "explained_variance_ratio": lst(pca.explained_variance_ratio_),
            "components": lst(comps), "scores": lst(pca.transform(x) * signs),
            "transform_new": lst(pca.transform(new) * signs)}


def knn_reference(rng):
    ref, query = r4(rng.normal(0, 1, (80, 6))), r4(rng.normal(0, 1, (25, 6)))
    y = rng.integers(0, 3, 80)
    k = 7
    dist, idx = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(ref).kneighbors(query)
    self_dist, self_idx = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(ref).kneighbors()
    proba = KNeighborsClassifier(k, algorithm="brute").fit(ref, y).predict_proba(query)
    return {"reference": lst(ref), "query": lst(query), "labels": lst(y), "k": k,
            "distances": lst(dist), "indices": lst(idx),
            "self_distances": lst(self_dist), "self_indices": lst(self_idx),
            "proba": lst(proba)}


def fit_logistic(x, y, C):
    """newton-cg to a tight tolerance. It warns that rounding stops its line search; the
    gradient of the objective at its answer is checked here instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = LogisticRegression(C=C, solver="newton-cg", tol=1e-10, max_iter=10000).fit(x, y)
    w, b = m.coef_, m.intercept_
    if len(m.classes_) == 2:
        p = 1 / (1 + np.exp(-(x @ w[0] + b[0])))
        grad = np.r_[C * x.T @ (p - y) + w[0], C * np.sum(p - y)]
    else:
        zl = x @ w.T + b
        p = np.exp(zl - zl.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        onehot = np.eye(len(m.classes_))[np.searchsorted(m.classes_, y)]
        grad = np.c_[C * (p - onehot).T @ x + w, C * (p - onehot).sum(0)]
    assert np.abs(grad).max() < 1e-6 * (1 + len(y) * C), np.abs(grad).max()
    return m


def logistic_reference(rng):
    out = []
    for n_classes, C in ((2, 1.0), (3, 1.0), (4, 0.3)):
        n, d = 150, 4
        x = r4(rng.normal(0, 1.5, (n, d)))
        w = rng.normal(0, 1, (n_classes, d))
        logits = x @ w.T + rng.gumbel(0, 1, (n, n_classes))
        y = logits.argmax(1)
        test = r4(rng.normal(0, 1.5, (15, d)))
        m = fit_logistic(x, y, C)
        out.append({"n_classes": n_classes, "C": C, "x": lst(x), "y": lst(y), "test": lst(test),
                    "coef": lst(m.coef_), "intercept": lst(m.intercept_),
                    "proba": lst(m.predict_proba(test))})
    return out


def forest_reference(rng):
    n, d = 300, 6
    x = r4(np.vstack([rng.normal(0, 1, (n, d)), rng.normal(0.35, 1, (n, d))]))
    y = np.r_[np.zeros(n, int), np.ones(n, int)]
    rf, knn = [], []
    for seed in range(5):
        cv = StratifiedKFold(5, shuffle=True, random_state=seed)
        p = cross_val_predict(RandomForestClassifier(200, random_state=seed), x, y, cv=cv,
                              method="predict_proba")[:, 1]
        rf.append(roc_auc_score(y, p))
        p = cross_val_predict(KNeighborsClassifier(15), x, y, cv=cv, method="predict_proba")[:, 1]
        knn.append(roc_auc_score(y, p))
    return {"x": lst(x), "y": lst(y), "forest_auc_mean": float(np.mean(rf)),
            "forest_auc_sd": float(np.std(rf, ddof=1)), "knn_auc_mean": float(np.mean(knn)),
            "knn_auc_sd": float(np.std(knn, ddof=1))}


def upper(c):
    i, j = np.triu_indices(c.shape[0], 1)
    return c[i, j]


def energy_scaled(ax, ay, bx, by):
    a, b = np.c_[ax, ay], np.c_[bx, by]
    sd = np.vstack([a, b]).std(0, ddof=1)
    sd[sd <= 0] = 1
    return float(energy_v(a / sd, b / sd)[1])


def fidelity_reference(rng):
    n_real, n_gen, n_train, g = 60, 50, 40, 40
    base = np.exp(rng.uniform(np.log(0.1), np.log(20), g))
    group = lambda n: rng.integers(0, 2, n)

    def counts(n, shift, lib_sd):
        grp = group(n)
        fold = np.ones((2, g))
        fold[1, :8] = 4.0
        mu = base[None, :] * fold[grp] * rng.lognormal(0, lib_sd, n)[:, None] * shift
        theta = 2.0
        return rng.negative_binomial(theta, theta / (theta + mu)).astype(float), grp

    real, real_grp = counts(n_real, 1.0, 0.3)
    gen, gen_grp = counts(n_gen, 1.3, 0.5)
    train, _ = counts(n_train, 1.0, 0.3)
    scale, n_corr, n_comp = 1e4, 15, 10

    def logn(x):
        lib = x.sum(1, keepdims=True)
        lib[lib == 0] = 1
        return np.log1p(x / lib * scale)

    lr, lg, lt = logn(real), logn(gen), logn(train)
    libr, libg = real.sum(1), gen.sum(1)
    zr, zg = (real == 0).mean(1), (gen == 0).mean(1)
    mr, mg = lr.mean(0), lg.mean(0)
    vr, vg = lr.var(0), lg.var(0)
    gzr, gzg = (real == 0).mean(0), (gen == 0).mean(0)
    top = np.sort(np.argsort(-vr, kind="stable")[:n_corr])
    with np.errstate(invalid="ignore", divide="ignore"):
        def cell_corr(m):
            m = m[:, top]
            keep = m.std(1) > 0
            return upper(np.corrcoef(m[keep]))
        def gene_corr(m):
            return upper(np.corrcoef(m[:, top].T))
        ccr, ccg = cell_corr(lr), cell_corr(lg)
        ggr, ggg = gene_corr(lr), gene_corr(lg)
    ok = ~(np.isnan(ggr) | np.isnan(ggg))
    pca = PCA(n_components=n_comp, svd_solver="full").fit(np.vstack([lr, lg]))
    z = pca.transform(np.vstack([lr, lg]))
    mmd, bw = mmd_rbf(z[:n_real], z[n_real:])
    zt = pca.transform(lt)
    nn = NearestNeighbors(n_neighbors=1).fit(zt)
    dg = nn.kneighbors(z[n_real:])[0][:, 0]
    dr = nn.kneighbors(z[:n_real])[0][:, 0]
    clf = fit_logistic(z[:n_real], real_grp, 1.0)
    label_acc = float((clf.predict(z[n_real:]) == gen_grp).mean())
    ks = lambda a, b: float(st.ks_2samp(a[~np.isnan(a)], b[~np.isnan(b)]).statistic)
    return {
        "real": lst(real), "generated": lst(gen), "train": lst(train),
        "real_labels": lst(real_grp), "generated_labels": lst(gen_grp),
        "scale_factor": scale, "n_correlation_genes": n_corr, "n_components": n_comp,
        "marginals": {
            "library_size_ks": ks(libr, libg),
            "zero_fraction_ks": ks(zr, zg),
            "library_zero_energy": energy_scaled(np.log1p(libr), zr, np.log1p(libg), zg),
            "gene_mean_ks": ks(mr, mg), "gene_mean_spearman": float(st.spearmanr(mr, mg)[0]),
            "gene_variance_ks": ks(vr, vg),
            "gene_variance_spearman": float(st.spearmanr(vr, vg)[0]),
            "gene_zero_fraction_ks": ks(gzr, gzg),
            "gene_zero_fraction_spearman": float(st.spearmanr(gzr, gzg)[0]),
            "mean_variance_energy": energy_scaled(mr, vr, mg, vg),
            "mean_zero_energy": energy_scaled(mr, gzr, mg, gzg),
            "cell_correlation_ks": ks(ccr, ccg),
            "gene_correlation_ks": ks(ggr, ggg),
            "gene_correlation_spearman": float(st.spearmanr(ggr[ok], ggg[ok])[0]),
            "median_library_size_real": float(np.median(libr)),
            "median_library_size_other": float(np.median(libg)),
            "zero_fraction_real": float((real == 0).mean()),
            "zero_fraction_other": float((gen == 0).mean()),
        },
        "explained_variance_ratio": float(pca.explained_variance_ratio_.sum()),
        "mmd2": mmd, "mmd_bandwidth": bw,
        "label_accuracy": label_acc,
        "nn_ratio": float(np.median(dg) / np.median(dr)),
        "close_fraction": float((dg < np.quantile(dr, 0.05)).mean()),
    }


def main():
    rng = np.random.default_rng(SEED)
    ref = {
        "provenance": {
            "script": "tests/reference/make_analysis_reference.py",
            "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "sklearn": sklearn.__version__, "seed": SEED,
        },
    }
    ref.update(statistics(rng))
    ref["pca"] = pca_reference(rng)
    ref["knn"] = knn_reference(rng)
    ref["logistic"] = logistic_reference(rng)
    ref["forest"] = forest_reference(rng)
    ref["fidelity"] = fidelity_reference(rng)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(ref, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
