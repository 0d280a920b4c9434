"""Interop: anndata reads the .h5ad files that cellvae writes, with equal values and dtypes.

Run by CTest as
    /usr/bin/python3 test_h5ad_interop.py CELLVAE_BINARY TESTDATA_DIR
Uses Debian's python3-anndata 0.8 (with h5py, numpy, pandas, scipy); exits 77 (skip) when it
cannot be imported. Each case makes `cellvae convert` write an .h5ad file from a fixture (see
tests/reference/make_h5_fixtures.py) and compares what anndata.read_h5ad gives with what
anndata gives for the source. Prints "N passed, M failed" and exits 1 on any failure.
"""
import os
import subprocess
import sys
import tempfile
import traceback

try:
    import anndata as ad
    import h5py
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"skipping: cannot import anndata and its dependencies ({e})")
    sys.exit(77)

BINARY, DATA = sys.argv[1], sys.argv[2]
SHARED = os.path.normpath(os.path.join(DATA, "..", "..", "..", "shared", "data"))
TMP = tempfile.mkdtemp(prefix="cellvae-interop-")
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def convert(src, name, *flags):
    out = os.path.join(TMP, name)
    r = subprocess.run([BINARY, "convert", src, out, *flags], capture_output=True, text=True)
    assert r.returncode == 0, f"cellvae convert {src} failed ({r.returncode}): {r.stderr}"
    return out


def dense(x):
    return x.toarray() if sp.issparse(x) else np.asarray(x)


def check_x(got, want):
    assert sp.isspmatrix_csr(got.X), f"X is {type(got.X).__name__}, expected csr_matrix"
    assert got.X.dtype == np.float32, got.X.dtype
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(dense(got.X), dense(want.X).astype(np.float32))


def check_frame(got, want, what):
    assert list(got.index) == list(want.index), f"{what} names differ"
    assert list(got.columns) == list(want.columns), (what, list(got.columns), list(want.columns))
    for col in want.columns:
        g, w = got[col], want[col]
        if isinstance(w.dtype, pd.CategoricalDtype):
            assert isinstance(g.dtype, pd.CategoricalDtype), f"{what}.{col}: {g.dtype}"
            assert list(g.cat.categories) == [str(c) for c in w.cat.categories], (what, col)
            assert g.cat.ordered == w.cat.ordered, f"{what}.{col} ordered"
            assert list(g.astype(str)) == list(w.astype(str)), f"{what}.{col} values"
        elif isinstance(w.dtype, (pd.Int64Dtype, pd.BooleanDtype)):
            # cellvae reads nullable integers as float with NaN, nullable booleans as bool.
            continue
        else:
            assert g.dtype == w.dtype, f"{what}.{col}: {g.dtype} != {w.dtype}"
            if w.dtype == object:
                assert list(g) == list(w), f"{what}.{col} values"
            else:
                np.testing.assert_array_equal(g.to_numpy(), w.to_numpy(), err_msg=f"{what}.{col}")


def check_fixture_copy(path, source):
    got = ad.read_h5ad(path)
    want = ad.read_h5ad(source)
    check_x(got, want)
    check_frame(got.obs, want.obs, "obs")
    check_frame(got.var, want.var, "var")
    expected_dtypes = {"cell_type": "category", "donor": "category", "score": "float64",
                       "n_genes": "int64", "is_doublet": "bool", "note": "object"}
    assert {c: str(t) for c, t in got.obs.dtypes.items()} == expected_dtypes, got.obs.dtypes
    return got, want


def fixture(name):
    return os.path.join(DATA, "h5ad", name)


@case
def csr_fixture_with_obsm_and_uns():
    got, want = check_fixture_copy(convert(fixture("x_csr.h5ad"), "csr.h5ad"),
                                   fixture("x_csr.h5ad"))
    np.testing.assert_array_equal(got.obsm["X_pca"], want.obsm["X_pca"])
    assert got.obsm["X_pca"].dtype == np.float64
    assert got.uns["title"] == "fixture"
    assert got.uns["n_pcs"] == 2
    assert got.uns["learning_rate"] == 0.25
    np.testing.assert_array_equal(got.uns["values"], want.uns["values"])
    assert list(got.uns["batches"]) == ["d1", "d2"]
    assert len(got.layers) == 0 and len(got.obsp) == 0 and len(got.varm) == 0


@case
def every_source_layout():
    for name in ("x_dense.h5ad", "x_csc.h5ad", "x_csr_int64_f64.h5ad", "x_csr_int32_values.h5ad",
                 "legacy_07.h5ad", "legacy_06.h5ad"):
        check_fixture_copy(convert(fixture(name), "layout_" + name), fixture("x_csr.h5ad"))


@case
def layer_and_raw_selection():
    got = ad.read_h5ad(convert(fixture("x_csr.h5ad"), "layer.h5ad", "--layer", "counts"))
    np.testing.assert_array_equal(dense(got.X), dense(ad.read_h5ad(fixture("x_csr.h5ad")).X))
    got = ad.read_h5ad(convert(fixture("x_csr.h5ad"), "raw.h5ad", "--raw"))
    assert got.shape == (6, 6) and got.var_names[-1] == "RAWONLY"
    np.testing.assert_array_equal(dense(got.X)[:, 5], np.ones(6, dtype=np.float32))


@case
def extras_ordered_numeric_categories_and_nullables():
    got = ad.read_h5ad(convert(fixture("extras.h5ad"), "extras.h5ad"))
    want = ad.read_h5ad(fixture("extras.h5ad"))
    check_x(got, want)
    check_frame(got.obs, want.obs, "obs")
    assert got.obs["grade"].cat.ordered
    na = got.obs["count_na"]
    assert na.dtype == np.float64 and np.isnan(na.iloc[1]) and na.iloc[5] == 6.0
    assert got.obs["flag_na"].dtype == bool
    np.testing.assert_array_equal(got.obsm["X_umap"], want.obsm["X_umap"])
    assert "X_sparse" not in got.obsm
    assert bool(got.uns["flag"]) is True


@case
def compression_levels_give_equal_objects():
    a = ad.read_h5ad(convert(fixture("x_csr.h5ad"), "c0.h5ad", "--compression", "0"))
    b = ad.read_h5ad(convert(fixture("x_csr.h5ad"), "c9.h5ad", "--compression", "9"))
    np.testing.assert_array_equal(dense(a.X), dense(b.X))
    check_frame(a.obs, b.obs, "obs")


@case
def tenx_h5_with_empty_obs_columns():
    for name in ("v3.h5", "v2.h5"):
        got = ad.read_h5ad(convert(os.path.join(DATA, "tenx_h5", name), name + ".h5ad"))
        want = ad.read_h5ad(fixture("x_csr.h5ad"))
        check_x(got, want)
        assert list(got.obs.columns) == []  # column-order written as an empty array
        assert list(got.obs_names) == list(want.obs_names)
        assert list(got.var_names) == list(want.var_names)
        assert list(got.var["gene_ids"]) == list(want.var["gene_ids"])
        if name == "v3.h5":
            assert str(got.var["feature_types"].dtype) == "category"


@case
def on_disk_encodings_follow_the_spec():
    path = convert(fixture("x_csr.h5ad"), "spec.h5ad")
    with h5py.File(path, "r") as f:
        assert f.attrs["encoding-type"] == "anndata"
        assert f.attrs["encoding-version"] == "0.1.0"
        x = f["X"]
        assert x.attrs["encoding-type"] == "csr_matrix"
        assert list(x.attrs["shape"]) == [6, 5] and x.attrs["shape"].dtype == np.int64
        assert x["data"].dtype == np.float32
        # One index type for both: anndata passes them to scipy as they are, and scipy's
        # fancy-indexing kernels reject mixed int32 indices / int64 indptr.
        assert x["indices"].dtype == np.int64
        assert x["indptr"].dtype == np.int64
        obs = f["obs"]
        assert obs.attrs["encoding-type"] == "dataframe"
        assert obs.attrs["encoding-version"] == "0.2.0"
        assert obs.attrs["_index"] == "_index"
        assert obs["is_doublet"].dtype == np.bool_
        assert obs["cell_type"].attrs["encoding-type"] == "categorical"
        assert obs["cell_type"]["codes"].dtype == np.int8
        ordered = obs["cell_type"].attrs["ordered"]
        assert isinstance(ordered, np.bool_) and not ordered, repr(ordered)
        assert f["uns"]["title"].attrs["encoding-type"] == "string"
        for g in ("layers", "obsm", "obsp", "varm", "varp", "uns"):
            assert f[g].attrs["encoding-type"] == "dict", g


@case
def streamed_x_over_several_chunks_and_two_member_mtx_gzip():
    # cellvae writes X through DatasetWriter: data/indices/indptr are extendible datasets
    # filled one 1 MiB chunk at a time. The 10x folder's matrix.mtx.gz is a header gzip member
    # followed by the entries' member; scipy (through Python's gzip) must read it whole.
    sim = os.path.join(TMP, "sim.h5ad")
    r = subprocess.run([BINARY, "simulate", "-o", sim, "--cells", "8000", "--genes", "400",
                        "--seed", "3"], capture_output=True, text=True)
    assert r.returncode == 0, f"cellvae simulate failed ({r.returncode}): {r.stderr}"
    with h5py.File(sim, "r") as f:
        data = f["X"]["data"]
        assert data.shape[0] > 2 * 262144, data.shape  # several chunks
        assert data.maxshape == (None,) and data.chunks == (262144,), (data.maxshape, data.chunks)
    got = ad.read_h5ad(sim)
    assert sp.isspmatrix_csr(got.X) and got.X.dtype == np.float32
    # scanpy-style row and column selection on the loaded matrix works (scipy kernels).
    rows, cols = [5, 1, 7000], [3, 0, 399]
    np.testing.assert_array_equal(dense(got[rows][:, cols].X), dense(got.X)[np.ix_(rows, cols)])
    folder = convert(sim, "sim_10x")
    import gzip
    import scipy.io
    with gzip.open(os.path.join(folder, "matrix.mtx.gz"), "rb") as fh:
        m = scipy.io.mmread(fh)
    assert m.shape == (got.n_vars, got.n_obs), m.shape
    np.testing.assert_array_equal(m.T.toarray().astype(np.float32), dense(got.X))
    with gzip.open(os.path.join(folder, "barcodes.tsv.gz"), "rt") as fh:
        assert fh.read().split("\n")[:-1] == list(got.obs_names)


@case
def shared_kang_pbmc_if_present():
    src = os.path.join(SHARED, "kang_pbmc", "kang_pbmc.h5ad")
    if not os.path.exists(src):
        print("  (shared kang_pbmc absent; not compared)")
        return
    got = ad.read_h5ad(convert(src, "kang.h5ad"))
    want = ad.read_h5ad(src)
    check_x(got, want)
    check_frame(got.obs, want.obs, "obs")
    check_frame(got.var, want.var, "var")


def main():
    passed = failed = 0
    for fn in CASES:
        try:
            fn()
            passed += 1
            print(f"PASS {fn.__name__}")
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
