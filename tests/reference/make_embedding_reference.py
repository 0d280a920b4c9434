#!/usr/bin/python3
"""Reference values for the embedding tests (tests/analysis/test_tsne.cpp, test_umap.cpp,
test_trustworthiness.cpp), computed with scikit-learn and umap-learn.

Writes tests/data/analysis/embedding/reference.json:
  data       three small data sets, inputs rounded to 4 decimals (so that the C++ side reads
             exactly the values the references were computed from, and fine enough that no two
             distances from a row tie, which would make neighbour ranks ambiguous), with their
             true labels:
               blobs       500 x 20, five Gaussian clusters of different sizes and spreads
               trajectory  400 x 15, a stem splitting into two curved branches (continuous
                           structure; labels are the stem and the two branches)
               clusters    1000 x 10, twelve clusters, sizes 25..160, some touching
  runs       for each data set and method, reference embeddings with seeds 0, 1, 2:
               tsne  sklearn.manifold.TSNE(perplexity=30, init="pca", learning_rate="auto",
                     method="barnes_hut", angle=0.5, n_iter=1000, random_state=seed)
               umap  umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=seed) (exact
                     neighbours for n < 4096; random_state makes it single-threaded)
             and their sklearn.manifold.trustworthiness (k=10), neighbourhood preservation
             (k=10: mean fraction of each row's 10 nearest input neighbours among its 10
             nearest embedding neighbours, from sklearn NearestNeighbors), the KL divergence
             (t-SNE), the leave-one-out accuracy of a 10-nearest-neighbour vote for the true
             labels in the embedding (majority of the 10 nearest other rows, ties to the lowest
             label), and, for information, the adjusted Rand index of KMeans(n_true, n_init=10,
             random_state=0) on the embedding (k-means itself is the fragile part of that one).
             A 2-component PCA of the data gives the same measures as a floor.
  embeddings the seed-0 embeddings of "trajectory" (rounded to 8 significant digits) with
             sklearn trustworthiness and neighbourhood preservation for k = 5, 10, 25 on
             exactly those values, to check cellvae's trustworthiness() itself.
  affinities sklearn.manifold._t_sne._joint_probabilities_nn on "trajectory" at perplexity 10
             (squared distances to the int(3 * 10 + 1) nearest rows): nnz, sum p log p, max,
             and rows 0..4 in full.
  graph      umap.umap_.fuzzy_simplicial_set on "trajectory" with n_neighbors=15 and exact
             neighbours (sklearn NearestNeighbors, the row itself first): nnz, sum of weights,
             rows 0..4 in full, sigma and rho of rows 0..19.
  curves     umap.umap_.find_ab_params(spread, min_dist) for several pairs.

Run with Debian's python3 (python3-sklearn, umap-learn):
    /usr/bin/python3 tests/reference/make_embedding_reference.py
"""
import json
import os
import platform
import sys
import warnings

import numpy as np
import scipy
import sklearn
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness
from sklearn.manifold._t_sne import _joint_probabilities_nn
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import NearestNeighbors

warnings.filterwarnings("ignore", category=FutureWarning)
import umap  # noqa: E402
import umap.umap_  # noqa: E402

SEED = 20240917
SEEDS = [0, 1, 2]
K = 10
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analysis",
                   "embedding", "reference.json")


def r4(a):
    return np.round(a, 4)


def blobs(rng):
    sizes, d = [140, 110, 100, 90, 60], 20
    xs, ys = [], []
    for c, size in enumerate(sizes):
        centre = rng.normal(0, 1.6, d)
        xs.append(centre + rng.normal(0, rng.uniform(0.7, 1.3), (size, d)))
        ys.append(np.full(size, c))
    return r4(np.vstack(xs)), np.concatenate(ys)


def trajectory(rng):
    """A stem from a to b, then branches b -> c and b -> e along quadratic Bezier curves, in 3-D
    latent coordinates with a bend, mapped to 15-D by a random orthonormal map plus noise."""
    d = 15
    a, b = np.array([0.0, 0, 0]), np.array([4.0, 0, 0])
    c, c_ctrl = np.array([7.0, 3, 1]), np.array([6.0, 0, 2])
    e, e_ctrl = np.array([7.0, -3, -1]), np.array([6.0, 0, -2])
    pts, ys = [], []
    t = np.sort(rng.uniform(0, 1, 160))
    pts.append(a + np.outer(t, b - a) + np.outer(np.sin(np.pi * t), [0, 0.8, 0]))
    ys.append(np.zeros(160, int))
    for label, (end, ctrl) in enumerate([(c, c_ctrl), (e, e_ctrl)], start=1):
        t = np.sort(rng.uniform(0, 1, 120))[:, None]
        pts.append((1 - t) ** 2 * b + 2 * (1 - t) * t * ctrl + t ** 2 * end)
        ys.append(np.full(120, label))
    latent = np.vstack(pts)
    q, _ = np.linalg.qr(rng.normal(0, 1, (d, d)))
    x = latent @ q[:3] + rng.normal(0, 0.12, (latent.shape[0], d))
    return r4(x), np.concatenate(ys)


def clusters(rng):
    sizes = [160, 140, 120, 110, 100, 90, 80, 70, 50, 40, 25, 15]
    d = 10
    xs, ys = [], []
    for c, size in enumerate(sizes):
        centre = rng.normal(0, 2.2, d)
        xs.append(centre + rng.normal(0, rng.uniform(0.5, 1.0), (size, d)))
        ys.append(np.full(size, c))
    return r4(np.vstack(xs)), np.concatenate(ys)


def knn(x, k):
    return NearestNeighbors(n_neighbors=k).fit(x).kneighbors(return_distance=False)


def preservation(x, y, k):
    a, b = knn(x, k), knn(y, k)
    return float(np.mean([len(set(a[i]) & set(b[i])) / k for i in range(len(x))]))


def knn_accuracy(y, labels, k=10):
    votes = labels[knn(y, k)]
    predicted = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in votes])
    return float(np.mean(predicted == labels))


def measures(x, labels, y):
    ari = adjusted_rand_score(labels, KMeans(labels.max() + 1, n_init=10, random_state=0)
                              .fit(y).labels_)
    return {"trustworthiness": float(trustworthiness(x, y, n_neighbors=K)),
            "preservation": preservation(x, y, K), "knn_accuracy": knn_accuracy(y, labels),
            "ari": float(ari)}


def run_tsne(x, seed):
    t = TSNE(n_components=2, perplexity=30.0, init="pca", learning_rate="auto",
             method="barnes_hut", angle=0.5, n_iter=1000, random_state=seed)
    y = t.fit_transform(x)
    return y, {"kl_divergence": float(t.kl_divergence_), "n_iter": int(t.n_iter_)}


def run_umap(x, seed):
    y = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=seed).fit_transform(x)
    return y, {}


def sig8(a):
    return np.array([float(f"{v:.8g}") for v in np.ravel(a)]).reshape(np.shape(a))


def csr_rows(m, rows):
    m = m.tocsr()
    m.sort_indices()
    out = []
    for i in rows:
        s, e = m.indptr[i], m.indptr[i + 1]
        out.append({"indices": m.indices[s:e].tolist(), "values": m.data[s:e].tolist()})
    return out


def main():
    rng = np.random.default_rng(SEED)
    sets = {"blobs": blobs(rng), "trajectory": trajectory(rng), "clusters": clusters(rng)}
    ref = {
        "provenance": {
            "script": "tests/reference/make_embedding_reference.py", "seed": SEED,
            "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "sklearn": sklearn.__version__,
            "umap-learn": umap.__version__, "k": K,
        },
        "data": {}, "runs": {}, "pca": {},
    }
    for name, (x, y) in sets.items():
        ref["data"][name] = {"x": x.tolist(), "labels": y.tolist()}
        ref["pca"][name] = measures(x, y, PCA(2).fit_transform(x))
        ref["runs"][name] = {}
        for method, run in (("tsne", run_tsne), ("umap", run_umap)):
            per_seed = []
            for seed in SEEDS:
                emb, extra = run(x, seed)
                entry = {"seed": seed, **measures(x, y, emb), **extra}
                per_seed.append(entry)
                if name == "trajectory" and seed == 0:
                    stored = sig8(emb)
                    ref.setdefault("embeddings", {})[method] = {
                        "y": stored.tolist(),
                        "trustworthiness": {str(k): float(trustworthiness(x, stored, n_neighbors=k))
                                            for k in (5, 10, 25)},
                        "preservation": {str(k): preservation(x, stored, k) for k in (5, 10, 25)},
                    }
            ref["runs"][name][method] = per_seed
            print(name, method, [(round(e["trustworthiness"], 4), round(e["preservation"], 4),
                                  round(e["knn_accuracy"], 4), round(e["ari"], 3))
                                 for e in per_seed], file=sys.stderr)

    x = sets["trajectory"][0]
    perplexity = 10.0
    k = min(len(x) - 1, int(3 * perplexity + 1))
    dist = NearestNeighbors(n_neighbors=k).fit(x).kneighbors_graph(mode="distance")
    dist.data **= 2
    p = _joint_probabilities_nn(dist, perplexity, 0).tocsr()
    ref["affinities"] = {"data": "trajectory", "perplexity": perplexity, "n_neighbors": k,
                         "nnz": int(p.nnz), "sum": float(p.sum()),
                         "sum_p_log_p": float(np.sum(p.data * np.log(p.data))),
                         "max": float(p.data.max()), "rows": csr_rows(p, range(5))}

    n_neighbors = 15
    nn = NearestNeighbors(n_neighbors=n_neighbors).fit(x)
    d, idx = nn.kneighbors(x)  # queried with the fitted rows: each row first, at distance 0
    assert (idx[:, 0] == np.arange(len(x))).all()
    graph, sigmas, rhos = umap.umap_.fuzzy_simplicial_set(
        x, n_neighbors, np.random.RandomState(0), "euclidean", knn_indices=idx, knn_dists=d)
    graph = graph.tocsr()
    ref["graph"] = {"data": "trajectory", "n_neighbors": n_neighbors, "nnz": int(graph.nnz),
                    "sum": float(graph.sum()), "rows": csr_rows(graph, range(5)),
                    "sigma": np.asarray(sigmas[:20], float).tolist(),
                    "rho": np.asarray(rhos[:20], float).tolist()}

    ref["curves"] = []
    for spread, min_dist in [(1.0, 0.1), (1.0, 0.5), (1.0, 0.001), (2.0, 0.25), (0.5, 0.0),
                             (1.5, 1.0)]:
        a, b = umap.umap_.find_ab_params(spread, min_dist)
        ref["curves"].append({"spread": spread, "min_dist": min_dist, "a": float(a),
                              "b": float(b)})

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
