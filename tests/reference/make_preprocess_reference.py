#!/usr/bin/python3
"""Reference values for the preprocessing tests (tests/preprocess/).

Writes, under tests/data/preprocess/:
  counts.csv        200 cells x 60 genes of simulated negative-binomial counts, with a batch
                    column (two batches); cells are rows, genes are columns.
  hvg_reference.csv per-gene mean, variance (ddof=1), loess fit, normalized variance and rank,
                    for one batch and for the two batches, and the selected top genes.
  lognorm_reference.csv  library sizes, size factors and log-normalized values of the first
                    cells.
  kang_hvg_reference.csv  the HVG selection (per donor) on the shared Kang PBMC data set, when
                    ../shared/data/kang_pbmc/kang_pbmc.h5ad is present (needs python3-anndata).

This is an INDEPENDENT numpy implementation of the published Seurat v3 variance-stabilizing
selection (Stuart et al. 2019, Cell 177:1888; "vst" in Seurat, flavor="seurat_v3" in scanpy),
written from the paper's description, NOT scanpy or skmisc output (neither is installed here):
  * per gene, mean and variance (ddof=1) of the counts;
  * loess of log10(variance) on log10(mean) over genes with variance > 0: at each gene, a
    weighted quadratic least-squares fit to the q = floor(span * n) nearest genes (distance in
    log10(mean)), tricube weights (1 - (d/h)^3)^3 with h the q-th smallest distance ("direct"
    evaluation as R's loess(surface = "direct"); skmisc interpolates on a k-d tree, so scanpy's
    values differ slightly);
  * expected sd = sqrt(10^fit); counts clipped above at mean + sd * sqrt(n_cells);
  * normalized variance = sum over all cells of ((clipped - mean) / sd)^2 / (n_cells - 1),
    0 for constant genes;
  * genes ranked by normalized variance (descending, ties by gene order); with batches the
    ranking is per batch, genes ordered by the number of batches in which they are in the top
    n (descending), then by the median of those ranks (ascending), as scanpy does.
Size factors and log-normalization follow scater's librarySizeFactors (centred to mean 1) and
logNormCounts (log2(count / size factor + 1)).

Run with Debian's python3 (numpy only):  /usr/bin/python3 tests/reference/make_preprocess_reference.py
"""
import os
import sys

import numpy as np

SEED = 20240611
N_CELLS, N_GENES, N_TOP, SPAN = 200, 60, 15, 0.3
N_LOGNORM_CELLS = 40

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "preprocess")


def simulate(rng):
    """NB counts with two cell groups (so some genes are truly variable) and two batches."""
    group = rng.integers(0, 2, N_CELLS)
    batch = np.repeat([0, 1], N_CELLS // 2)
    base = np.exp(rng.uniform(np.log(0.05), np.log(30.0), N_GENES))
    # Genes 0..9 differ between the groups; gene 58 is only seen in batch 1; gene 59 never.
    fold = np.ones((2, N_GENES))
    fold[1, :10] = rng.uniform(3.0, 8.0, 10)
    theta = rng.uniform(0.5, 10.0, N_GENES)
    lib = rng.lognormal(0.0, 0.3, N_CELLS)
    mu = base[None, :] * fold[group, :] * lib[:, None]
    mu[batch == 1] *= 1.2
    counts = rng.negative_binomial(theta[None, :], theta[None, :] / (theta[None, :] + mu))
    counts[batch == 0, 58] = 0
    counts[:, 59] = 0
    return counts.astype(np.float64), batch


def loess_direct(x, y, span):
    """Local quadratic fit with tricube weights at every x (no interpolation)."""
    n = len(x)
    q = int(np.floor(span * n + 1e-9))  # as the C++: guards 0.3 * 60 against flooring to 17
    fit = np.empty(n)
    for i in range(n):
        d = np.abs(x - x[i])
        h = np.sort(d)[q - 1]
        w = np.where(d < h, (1.0 - (d / h) ** 3) ** 3, 0.0)
        dx = x - x[i]
        A = np.stack([np.ones(n), dx, dx * dx], axis=1)
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
        fit[i] = coef[0]
    return fit


def normalized_variance(counts, span):
    n = counts.shape[0]
    mean = counts.mean(axis=0)
    var = counts.var(axis=0, ddof=1)
    not_const = var > 0
    fit = np.full(counts.shape[1], np.nan)
    fit[not_const] = loess_direct(np.log10(mean[not_const]), np.log10(var[not_const]), span)
    sd = np.sqrt(10.0 ** fit)
    norm = np.zeros(counts.shape[1])
    vmax = np.sqrt(n)
    for g in np.flatnonzero(not_const):
        z = (counts[:, g] - mean[g]) / sd[g]
        z = np.minimum(z, vmax)
        norm[g] = np.sum(z * z) / (n - 1)
    return mean, var, fit, norm


def ranks(norm):
    order = np.argsort(-norm, kind="stable")
    r = np.empty(len(norm), dtype=np.int64)
    r[order] = np.arange(len(norm))
    return r


def select(norms, n_top):
    """norms: batches x genes. Returns (n_batches_top, median_rank or nan, selected sorted)."""
    rk = np.stack([ranks(nv) for nv in norms]).astype(np.float64)
    in_top = rk < n_top
    nbatches = in_top.sum(axis=0)
    med = np.full(rk.shape[1], np.nan)
    for g in range(rk.shape[1]):
        if nbatches[g] > 0:
            med[g] = np.median(rk[in_top[:, g], g])
    key_rank = np.where(np.isnan(med), np.inf, med)
    order = np.lexsort((np.arange(rk.shape[1]), key_rank, -nbatches))
    return nbatches, med, np.sort(order[:n_top]), order


def main():
    rng = np.random.default_rng(SEED)
    counts, batch = simulate(rng)
    genes = ["G%02d" % g for g in range(N_GENES)]
    cells = ["c%03d" % c for c in range(N_CELLS)]

    mean, var, fit, norm1 = normalized_variance(counts, SPAN)
    nb1, med1, sel1, order1 = select(norm1[None, :], N_TOP)
    # The cut between the N_TOP-th and next gene must be clear, or rounding could swap them.
    sorted_norm = np.sort(norm1)[::-1]
    gap = (sorted_norm[N_TOP - 1] - sorted_norm[N_TOP]) / sorted_norm[N_TOP - 1]
    if gap < 1e-3:
        sys.exit("seed gives a near tie at the top-%d cut (gap %.2g); pick another" % (N_TOP, gap))

    per_batch = [normalized_variance(counts[batch == b], SPAN)[3] for b in (0, 1)]
    normb = np.stack(per_batch)
    # Ranks inside the top n feed the batch median: adjacent values there must be well apart.
    for nv in [norm1] + per_batch:
        top = np.sort(nv)[::-1][:N_TOP + 1]
        if np.min(-np.diff(top) / top[:-1]) < 1e-4:
            sys.exit("seed gives near-tied normalized variances in the top %d; pick another" % N_TOP)
    nbb, medb, selb, orderb = select(normb, N_TOP)

    header = ("# Provenance: tests/reference/make_preprocess_reference.py, an independent numpy\n"
              "# implementation of the Seurat v3 HVG formula (Stuart et al. 2019), NOT scanpy/skmisc.\n"
              "# numpy %s, seed %d, %d cells x %d genes, span %.2f, n_top_genes %d.\n"
              % (np.__version__, SEED, N_CELLS, N_GENES, SPAN, N_TOP))

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "counts.csv"), "w") as f:
        f.write("# Provenance: tests/reference/make_preprocess_reference.py (numpy %s, seed %d):\n"
                "# simulated negative-binomial counts, %d cells x %d genes.\n"
                % (np.__version__, SEED, N_CELLS, N_GENES))
        f.write("# Rows are cells; 'batch' is a batch code (0/1); other columns are genes.\n")
        f.write("cell,batch," + ",".join(genes) + "\n")
        for c in range(N_CELLS):
            f.write("%s,%d,%s\n" % (cells[c], batch[c], ",".join("%d" % v for v in counts[c])))

    def fmt(v):
        return "nan" if np.isnan(v) else "%.17g" % v

    with open(os.path.join(OUT, "hvg_reference.csv"), "w") as f:
        f.write(header)
        f.write("# One batch: mean, variance (ddof=1), loess_fit (log10 expected variance, nan for\n"
                "# constant genes), variances_norm, rank (nan when outside the top n), selected.\n"
                "# Two batches (column 'batch' of counts.csv): variances_norm_b (mean over batches),\n"
                "# nbatches_b, median_rank_b, selected_b.\n")
        f.write("gene,mean,variance,loess_fit,variances_norm,rank,selected,"
                "variances_norm_b,nbatches_b,median_rank_b,selected_b\n")
        rank1 = np.where(nb1 > 0, med1, np.nan)
        for g in range(N_GENES):
            f.write(",".join([genes[g], fmt(mean[g]), fmt(var[g]), fmt(fit[g]), fmt(norm1[g]),
                              fmt(rank1[g]), "1" if g in sel1 else "0",
                              fmt(normb.mean(axis=0)[g]), "%d" % nbb[g], fmt(medb[g]),
                              "1" if g in selb else "0"]) + "\n")

    lib = counts.sum(axis=1)
    sf = lib / lib.mean()
    logn = np.log2(counts / sf[:, None] + 1.0)
    with open(os.path.join(OUT, "lognorm_reference.csv"), "w") as f:
        f.write("# Provenance: tests/reference/make_preprocess_reference.py (numpy %s), from counts.csv.\n"
                "# scater librarySizeFactors (library / mean library over all %d cells) and\n"
                "# logNormCounts: log2(count / size_factor + 1). First %d cells only.\n"
                % (np.__version__, N_CELLS, N_LOGNORM_CELLS))
        f.write("cell,library,size_factor," + ",".join(genes) + "\n")
        for c in range(N_LOGNORM_CELLS):
            f.write(",".join([cells[c], fmt(lib[c]), fmt(sf[c])] + [fmt(v) for v in logn[c]]) + "\n")

    print("top %d gap %.3g; selected %s; batch-selected %s" % (N_TOP, gap, list(sel1), list(selb)))
    kang_reference()


KANG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data",
                    "kang_pbmc", "kang_pbmc.h5ad")
KANG_TOP = 300


def kang_reference():
    """The same formula on the shared Kang et al. 2018 PBMC data, per donor (skipped if absent)."""
    if not os.path.exists(KANG):
        print("kang_pbmc.h5ad not found; kang_hvg_reference.csv not rewritten")
        return
    import anndata
    ad = anndata.read_h5ad(KANG)
    X = ad.X.toarray().astype(np.float64) if hasattr(ad.X, "toarray") else np.asarray(ad.X, np.float64)
    donors = np.asarray(ad.obs["donor"].astype(str))
    norms, ties = [], []
    for d in np.unique(donors):
        nv = normalized_variance(X[donors == d], SPAN)[3]
        # Genes whose counts give mathematically equal normalized variances (same sum and sum
        # of squares, e.g. SELL and SBDS in donor 101) differ only by rounding, so another
        # implementation may rank them the other way round: a rank (and median rank) can then
        # differ by one. List such pairs inside the top n, where ranks matter.
        order = np.argsort(-nv, kind="stable")[:KANG_TOP + 1]
        top = nv[order]
        for k in np.flatnonzero(-np.diff(top) / top[:-1] < 1e-9):
            ties.append("%s:%s/%s" % (d, ad.var_names[order[k]], ad.var_names[order[k + 1]]))
        norms.append(nv)
    normb = np.stack(norms)
    nbb, medb, selb, _ = select(normb, KANG_TOP)
    with open(os.path.join(OUT, "kang_hvg_reference.csv"), "w") as f:
        f.write("# Provenance: tests/reference/make_preprocess_reference.py, an independent numpy\n"
                "# implementation of the Seurat v3 HVG formula (Stuart et al. 2019), NOT scanpy/skmisc,\n"
                "# on shared/data/kang_pbmc/kang_pbmc.h5ad (anndata %s, numpy %s): batches = obs 'donor'\n"
                "# (%d donors), span %.2f, n_top_genes %d. variances_norm is the mean over donors.\n"
                % (anndata.__version__, np.__version__, len(norms), SPAN, KANG_TOP))
        f.write("# Tied pairs in the top n (donor:gene/gene; rank order decided by rounding): %s\n"
                % (" ".join(ties) if ties else "none"))
        f.write("gene,variances_norm,nbatches,median_rank,selected\n")
        mean_norm = normb.mean(axis=0)
        for g, name in enumerate(ad.var_names):
            f.write("%s,%.12g,%d,%s,%d\n" % (name, mean_norm[g], nbb[g],
                                            "nan" if np.isnan(medb[g]) else "%g" % medb[g],
                                            1 if g in set(selb) else 0))
    print("kang: %d donors, %d genes selected" % (len(norms), len(selb)))


if __name__ == "__main__":
    main()
