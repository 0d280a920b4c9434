"""Writes the HDF5 fixtures of the h5ad and 10x-h5 reader tests.

Provenance
----------
Run with Debian bookworm's /usr/bin/python3 and its packages: python3-anndata 0.8.0,
python3-h5py 3.7.0 (HDF5 1.10.8), python3-numpy 1.24.2, python3-scipy 1.10.1, python3-pandas
1.5.3. No randomness: every value comes from fixture_matrix.py (the one 6 x 5 matrix that every
I/O fixture holds) or is written out below.

    /usr/bin/python3 tests/reference/make_h5_fixtures.py   # writes into tests/data/ (the build
                                                           # runs it; the files are not committed)

What it makes
-------------
tests/data/h5ad/
  x_csr.h5ad              anndata 0.8 writer; X CSR; obs columns of every kind; var gene_ids;
                          obsm X_pca (6 x 2); uns scalars, string, arrays; layer "counts" (= X);
                          raw with one extra gene "RAWONLY" (raw.X = [X | 1])
  x_dense.h5ad            the same object with X dense
  x_csc.h5ad              the same object with X CSC
  x_csr_int64_f64.h5ad    x_csr.h5ad with X/indices and X/indptr int64 and X/data float64
  x_csr_int32_values.h5ad x_csr.h5ad with X/data int32
  extras.h5ad             anndata 0.8 writer; elements cellvae reads partly or skips: nullable
                          integer and boolean obs columns, an ordered categorical, numeric
                          categories, sparse obsm, dataframe obsm, nested uns dict, obsp entry
  legacy_07.h5ad          written by hand with h5py in the anndata 0.7 layout: X and layers
                          with h5sparse_format/h5sparse_shape attrs, categorical obs columns as
                          codes whose `categories` attr is an object reference into
                          obs/__categories, var index dataset named "gene", uns without
                          encoding attrs
  legacy_06.h5ad          written by hand with h5py in the anndata < 0.7 layout: X dense, obs
                          and var as compound (record) datasets with an "index" field and
                          fixed-length byte strings, categories in uns["<column>_categories"],
                          raw as root datasets "raw.X" ([X | 1]) and "raw.var"
  broken_shape.h5ad       minimal h5py-written file whose obs has 5 names for 6 rows of X
  broken_encoding.h5ad    X group with encoding-type "coo_matrix"
  broken_indptr.h5ad      X whose indptr decreases at row 2
  no_x.h5ad               obs, var and a layer "spliced", but no X
tests/data/tenx_h5/
  v3.h5                   Cell Ranger 3 layout (/matrix, features/), genes x cells CSC; genes
                          0-2 in genome GRCh38, genes 3-4 in mm10
  v2.h5                   Cell Ranger 2 layout, one genome group /GRCh38
  v2_two_genomes.h5       Cell Ranger 2 layout with /GRCh38 (the fixture) and /mm10 (2 x 6)
  v3_gzip_large.h5        Cell Ranger 3 layout, 1000 cells x 300 genes, every entry stored,
                          value (7 * cell + gene) % 13 + 1; data int32 and indices int64 in
                          gzip chunks of 65536 (big enough for cellvae's parallel inflating
                          with type conversion, and compressible to a few tens of KB)
"""
import os
import sys

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
import anndata as ad

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_matrix as fm  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
H5AD = os.path.join(DATA, "h5ad")
TENX = os.path.join(DATA, "tenx_h5")

X_PCA = np.array([[0.5, -1.0], [1.5, 2.0], [-0.25, 0.0], [3.0, 1.0], [0.0, -2.5], [1.0, 1.0]])
UNS_VALUES = np.array([0.1, 0.2, 0.3])


def obs_frame():
    return pd.DataFrame(
        {
            "cell_type": pd.Categorical(fm.CELL_TYPE),
            "donor": pd.Categorical(fm.DONOR),
            "score": np.array(fm.SCORE, dtype=np.float64),
            "n_genes": np.array(fm.N_GENES, dtype=np.int64),
            "is_doublet": np.array(fm.IS_DOUBLET, dtype=bool),
            "note": np.array(fm.NOTE, dtype=object),
        },
        index=pd.Index(fm.CELLS),
    )


def var_frame():
    return pd.DataFrame({"gene_ids": np.array(fm.GENE_IDS, dtype=object)},
                        index=pd.Index(fm.GENES))


def base_anndata(x):
    a = ad.AnnData(X=x, obs=obs_frame(), var=var_frame())
    a.obsm["X_pca"] = X_PCA.copy()
    a.uns["title"] = "fixture"
    a.uns["n_pcs"] = 2
    a.uns["learning_rate"] = 0.25
    a.uns["values"] = UNS_VALUES.copy()
    a.uns["batches"] = np.array(["d1", "d2"], dtype=object)
    a.layers["counts"] = sp.csr_matrix(fm.X)
    raw_x = np.hstack([fm.X, np.ones((6, 1), dtype=np.float32)])
    raw_var = pd.DataFrame({"gene_ids": fm.GENE_IDS + ["ENSG99"]},
                           index=pd.Index(fm.GENES + ["RAWONLY"]))
    a.raw = ad.AnnData(X=sp.csr_matrix(raw_x), obs=a.obs[[]], var=raw_var)
    return a


def write_anndata(a, name):
    # No compression: the fixtures stay a few KB and readable by any HDF5 build.
    a.write_h5ad(os.path.join(H5AD, name))


def replace_x_datasets(name, source, dtypes):
    """Copies `source` to `name` with X's datasets re-written in other dtypes."""
    src = os.path.join(H5AD, source)
    dst = os.path.join(H5AD, name)
    with open(src, "rb") as f_in, open(dst, "wb") as f_out:
        f_out.write(f_in.read())
    with h5py.File(dst, "r+") as f:
        for key, dtype in dtypes.items():
            values = f["X"][key][...].astype(dtype)
            del f["X"][key]
            f["X"].create_dataset(key, data=values)


def write_extras():
    a = ad.AnnData(X=sp.csr_matrix(fm.X), obs=pd.DataFrame(index=pd.Index(fm.CELLS)),
                   var=pd.DataFrame(index=pd.Index(fm.GENES)))
    a.obs["count_na"] = pd.array([1, None, 3, 4, None, 6], dtype="Int64")
    a.obs["flag_na"] = pd.array([True, False, None, True, False, False], dtype="boolean")
    a.obs["grade"] = pd.Categorical(["lo", "hi", "mid", "lo", "hi", "mid"],
                                    categories=["lo", "mid", "hi"], ordered=True)
    a.obs["cluster"] = pd.Categorical([2, 1, 2, 3, 1, 2])      # numeric categories
    a.obsm["X_sparse"] = sp.csr_matrix(np.eye(6, 3))
    a.obsm["frame"] = pd.DataFrame({"a": np.arange(6.0)}, index=a.obs_names)
    a.obsm["X_umap"] = np.arange(12.0).reshape(6, 2)
    a.uns["params"] = {"k": 15, "metric": "euclidean"}
    a.uns["flag"] = True
    a.obsp["distances"] = sp.csr_matrix(np.eye(6))
    write_anndata(a, "extras.h5ad")


def str_dataset(group, name, values):
    return group.create_dataset(name, data=np.array(values, dtype=object),
                                dtype=h5py.special_dtype(vlen=str))


def h5sparse_group(parent, name, m):
    g = parent.create_group(name)
    g.attrs["h5sparse_format"] = "csr"
    g.attrs["h5sparse_shape"] = np.array(m.shape)
    g.create_dataset("data", data=m.data.astype(np.float32))
    g.create_dataset("indices", data=m.indices.astype(np.int32))
    g.create_dataset("indptr", data=m.indptr.astype(np.int64))


def write_legacy_07():
    with h5py.File(os.path.join(H5AD, "legacy_07.h5ad"), "w") as f:
        h5sparse_group(f, "X", sp.csr_matrix(fm.X))
        layers = f.create_group("layers")
        h5sparse_group(layers, "counts", sp.csr_matrix(fm.X))

        obs = f.create_group("obs")
        columns = ["cell_type", "donor", "score", "n_genes", "is_doublet", "note"]
        obs.attrs["encoding-type"] = "dataframe"
        obs.attrs["encoding-version"] = "0.1.0"
        obs.attrs["column-order"] = columns
        obs.attrs["_index"] = "_index"
        str_dataset(obs, "_index", fm.CELLS)
        for name, labels in (("cell_type", fm.CELL_TYPE), ("donor", fm.DONOR)):
            cat = pd.Categorical(labels)
            cats = str_dataset(obs, "__categories/" + name, list(cat.categories))
            cats.attrs["ordered"] = False
            codes = obs.create_dataset(name, data=cat.codes)
            codes.attrs["categories"] = cats.ref
        obs.create_dataset("score", data=np.array(fm.SCORE, dtype=np.float64))
        obs.create_dataset("n_genes", data=np.array(fm.N_GENES, dtype=np.int64))
        obs.create_dataset("is_doublet", data=np.array(fm.IS_DOUBLET, dtype=bool))
        str_dataset(obs, "note", fm.NOTE)

        var = f.create_group("var")
        var.attrs["encoding-type"] = "dataframe"
        var.attrs["encoding-version"] = "0.1.0"
        var.attrs["column-order"] = ["gene_ids"]
        var.attrs["_index"] = "gene"
        str_dataset(var, "gene", fm.GENES)
        str_dataset(var, "gene_ids", fm.GENE_IDS)

        f.create_group("obsm").create_dataset("X_pca", data=X_PCA)
        uns = f.create_group("uns")
        uns["title"] = "fixture"
        uns["n_pcs"] = np.int64(2)
        uns["values"] = UNS_VALUES


def write_legacy_06():
    def records(index, columns):
        fields = [("index", "S%d" % max(len(s) for s in index))]
        fields += [(name, values.dtype) for name, values in columns]
        rec = np.zeros(len(index), dtype=fields)
        rec["index"] = [s.encode() for s in index]
        for name, values in columns:
            rec[name] = values
        return rec

    with h5py.File(os.path.join(H5AD, "legacy_06.h5ad"), "w") as f:
        f.create_dataset("X", data=fm.X)
        cell_type = pd.Categorical(fm.CELL_TYPE)
        donor = pd.Categorical(fm.DONOR)
        f.create_dataset("obs", data=records(fm.CELLS, [
            ("cell_type", cell_type.codes.astype(np.int8)),
            ("donor", donor.codes.astype(np.int8)),
            ("score", np.array(fm.SCORE, dtype=np.float64)),
            ("n_genes", np.array(fm.N_GENES, dtype=np.int64)),
            ("is_doublet", np.array(fm.IS_DOUBLET, dtype=bool)),
            ("note", np.array([s.encode() for s in fm.NOTE], dtype="S1")),
        ]))
        f.create_dataset("var", data=records(fm.GENES, [
            ("gene_ids", np.array([s.encode() for s in fm.GENE_IDS], dtype="S6")),
        ]))
        # raw as anndata < 0.7 stored it: root members "raw.X" and "raw.var".
        f.create_dataset("raw.X", data=np.hstack([fm.X, np.ones((6, 1), dtype=np.float32)]))
        f.create_dataset("raw.var", data=records(fm.GENES + ["RAWONLY"], [
            ("gene_ids", np.array([s.encode() for s in fm.GENE_IDS + ["ENSG99"]], dtype="S6")),
        ]))
        uns = f.create_group("uns")
        uns.create_dataset("cell_type_categories",
                           data=np.array([c.encode() for c in cell_type.categories]))
        uns.create_dataset("donor_categories",
                           data=np.array([c.encode() for c in donor.categories]))


def minimal_h5ad(name, n_obs=6, x_encoding="csr_matrix", indptr=None, with_x=True):
    """A small hand-written 0.8-layout file for the error tests."""
    m = sp.csr_matrix(fm.X)
    with h5py.File(os.path.join(H5AD, name), "w") as f:
        f.attrs["encoding-type"] = "anndata"
        f.attrs["encoding-version"] = "0.1.0"
        groups = [f.create_group("layers").create_group("spliced")]
        if with_x:
            groups.append(f.create_group("X"))
        for g in groups:
            g.attrs["encoding-type"] = x_encoding if g.name == "/X" else "csr_matrix"
            g.attrs["encoding-version"] = "0.1.0"
            g.attrs["shape"] = np.array(m.shape)
            g.create_dataset("data", data=m.data)
            g.create_dataset("indices", data=m.indices)
            g.create_dataset("indptr", data=m.indptr if indptr is None or g.name != "/X"
                             else np.array(indptr))
        for key, names in (("obs", fm.CELLS[:n_obs]), ("var", fm.GENES)):
            g = f.create_group(key)
            g.attrs["_index"] = "_index"
            g.attrs["column-order"] = np.array([], dtype=object).astype(
                h5py.special_dtype(vlen=str))
            g.attrs["encoding-type"] = "dataframe"
            g.attrs["encoding-version"] = "0.2.0"
            str_dataset(g, "_index", names)


def write_broken():
    minimal_h5ad("broken_shape.h5ad", n_obs=5)
    minimal_h5ad("broken_encoding.h5ad", x_encoding="coo_matrix")
    minimal_h5ad("broken_indptr.h5ad", indptr=[0, 2, 4, 3, 5, 10, 12])
    minimal_h5ad("no_x.h5ad", with_x=False)


def write_tenx_v3():
    m = sp.csc_matrix(fm.X.T.astype(np.int32))  # genes x cells, one column per cell
    with h5py.File(os.path.join(TENX, "v3.h5"), "w") as f:
        g = f.create_group("matrix")
        g.create_dataset("barcodes", data=np.array([s.encode() for s in fm.CELLS]))
        g.create_dataset("data", data=m.data.astype(np.int32))
        g.create_dataset("indices", data=m.indices.astype(np.int64))
        g.create_dataset("indptr", data=m.indptr.astype(np.int64))
        g.create_dataset("shape", data=np.array(m.shape, dtype=np.int32))
        feat = g.create_group("features")
        feat.create_dataset("id", data=np.array([s.encode() for s in fm.GENE_IDS]))
        feat.create_dataset("name", data=np.array([s.encode() for s in fm.GENES]))
        feat.create_dataset("feature_type", data=np.array([b"Gene Expression"] * 5))
        feat.create_dataset("genome", data=np.array([b"GRCh38"] * 3 + [b"mm10"] * 2))
        feat.create_dataset("_all_tag_keys", data=np.array([b"genome"]))


def tenx_v2_group(f, genome, x, ids, names):
    m = sp.csc_matrix(x.T.astype(np.int32))
    g = f.create_group(genome)
    g.create_dataset("barcodes", data=np.array([s.encode() for s in fm.CELLS]))
    g.create_dataset("data", data=m.data.astype(np.int32))
    g.create_dataset("indices", data=m.indices.astype(np.int64))
    g.create_dataset("indptr", data=m.indptr.astype(np.int64))
    g.create_dataset("shape", data=np.array(m.shape, dtype=np.int32))
    g.create_dataset("genes", data=np.array([s.encode() for s in ids]))
    g.create_dataset("gene_names", data=np.array([s.encode() for s in names]))


def write_tenx_v2():
    with h5py.File(os.path.join(TENX, "v2.h5"), "w") as f:
        tenx_v2_group(f, "GRCh38", fm.X, fm.GENE_IDS, fm.GENES)
    with h5py.File(os.path.join(TENX, "v2_two_genomes.h5"), "w") as f:
        tenx_v2_group(f, "GRCh38", fm.X, fm.GENE_IDS, fm.GENES)
        mouse = np.array([[1, 0], [0, 2], [0, 0], [3, 3], [0, 1], [4, 0]], dtype=np.float32)
        tenx_v2_group(f, "mm10", mouse, ["ENSMUSG01", "ENSMUSG02"], ["Cd3e", "Lyz2"])


def write_tenx_v3_large():
    n_cells, n_genes = 1000, 300
    cell = np.arange(n_cells)[:, None]
    gene = np.arange(n_genes)[None, :]
    data = ((7 * cell + gene) % 13 + 1).astype(np.int32).ravel()
    gz = dict(chunks=(65536,), compression="gzip", compression_opts=9)
    with h5py.File(os.path.join(TENX, "v3_gzip_large.h5"), "w") as f:
        g = f.create_group("matrix")
        g.create_dataset("barcodes", data=np.array([b"c%d" % i for i in range(n_cells)]),
                         compression="gzip")
        g.create_dataset("data", data=data, **gz)
        g.create_dataset("indices", data=np.tile(np.arange(n_genes, dtype=np.int64), n_cells),
                         **gz)
        g.create_dataset("indptr", data=np.arange(n_cells + 1, dtype=np.int64) * n_genes,
                         compression="gzip")
        g.create_dataset("shape", data=np.array([n_genes, n_cells], dtype=np.int32))
        feat = g.create_group("features")
        names = np.array([b"g%d" % j for j in range(n_genes)])
        for key, values in (("id", names), ("name", names),
                            ("feature_type", np.array([b"Gene Expression"] * n_genes)),
                            ("genome", np.array([b"GRCh38"] * n_genes))):
            feat.create_dataset(key, data=values, compression="gzip")


def main():
    os.makedirs(H5AD, exist_ok=True)
    os.makedirs(TENX, exist_ok=True)
    write_anndata(base_anndata(sp.csr_matrix(fm.X)), "x_csr.h5ad")
    write_anndata(base_anndata(fm.X.copy()), "x_dense.h5ad")
    write_anndata(base_anndata(sp.csc_matrix(fm.X)), "x_csc.h5ad")
    replace_x_datasets("x_csr_int64_f64.h5ad", "x_csr.h5ad",
                       {"indices": np.int64, "indptr": np.int64, "data": np.float64})
    replace_x_datasets("x_csr_int32_values.h5ad", "x_csr.h5ad", {"data": np.int32})
    write_extras()
    write_legacy_07()
    write_legacy_06()
    write_broken()
    write_tenx_v3()
    write_tenx_v2()
    write_tenx_v3_large()


if __name__ == "__main__":
    main()
