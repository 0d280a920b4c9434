"""Writes the text-format fixtures of the Matrix Market, 10x folder and CSV/TSV reader tests.

Provenance
----------
Run with Debian bookworm's /usr/bin/python3 and its packages: python3-scipy 1.10.1
(scipy.io.mmwrite writes every matrix.mtx), python3-pandas 1.5.3 (DataFrame.to_csv writes the
tables), python3-numpy 1.24.2, and the standard library's gzip and csv modules (compression with
mtime 0, so reruns give identical bytes). No randomness: every value comes from
fixture_matrix.py (the one 6 x 5 matrix every I/O fixture holds). The C++ readers are not used
here, so the fixtures check them against independent writers.

    /usr/bin/python3 tests/reference/make_text_fixtures.py          # writes into tests/data/

What it makes
-------------
tests/data/mtx/
  v3/            Cell Ranger 3 layout, all gzip: matrix.mtx.gz (genes x cells, "integer",
                 entries sorted by cell as Cell Ranger writes them), features.tsv.gz
                 (gene id, gene name, "Gene Expression"), barcodes.tsv.gz
  v2/            Cell Ranger 2 layout, all plain text: matrix.mtx ("integer", entries sorted
                 by gene, so the reader has to regroup them by cell), genes.tsv (gene id,
                 gene name), barcodes.tsv
  real/          v3 layout with matrix.mtx.gz in field "real" (the same whole numbers written
                 as 3.000000000000000e+00), features.tsv.gz, barcodes.tsv.gz
  fractional/    v3 layout holding X / 8 (exact in binary: 0.375, 12500, ...) in field "real"
tests/data/csv/
  cells_by_genes.csv       as R's write.csv writes it: quoted names, quoted empty corner cell,
                           cells as rows, integer values
  genes_by_cells.tsv       as R's write.table(sep = "\\t") writes it: genes as rows, quoted
                           names, header WITHOUT the corner cell (one field fewer than the rows)
  cells_by_genes.tsv.gz    pandas' default to_csv(sep="\\t"), gzip: unquoted names, empty corner
                           cell, float values written as "3.0"
"""
import csv
import gzip
import io
import os
import shutil
import sys

import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_matrix as fm  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
MTX = os.path.join(DATA, "mtx")
CSV = os.path.join(DATA, "csv")


def gzip_bytes(path, data):
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            f.write(data)


def write_text(path, text):
    data = text.encode("utf-8")
    if path.endswith(".gz"):
        gzip_bytes(path, data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def mtx_bytes(coo, field, **kwargs):
    buf = io.BytesIO()
    scipy.io.mmwrite(buf, coo, field=field, **kwargs)
    return buf.getvalue()


def genes_by_cells(values, order):
    """The genes x cells COO matrix, entries sorted by cell ("cell") or by gene ("gene")."""
    m = sp.csc_matrix(values.T) if order == "cell" else sp.csr_matrix(values.T)
    return sp.coo_matrix(m)


def write_folder(name, matrix_name, matrix_data, features_name, features_text, barcodes_name):
    folder = os.path.join(MTX, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    path = os.path.join(folder, matrix_name)
    if matrix_name.endswith(".gz"):
        gzip_bytes(path, matrix_data)
    else:
        with open(path, "wb") as f:
            f.write(matrix_data)
    write_text(os.path.join(folder, features_name), features_text)
    write_text(os.path.join(folder, barcodes_name), "".join(c + "\n" for c in fm.CELLS))


def v3_features():
    return "".join(f"{i}\t{g}\tGene Expression\n" for i, g in zip(fm.GENE_IDS, fm.GENES))


def make_mtx():
    counts = fm.X.astype(np.int64)
    write_folder("v3", "matrix.mtx.gz", mtx_bytes(genes_by_cells(counts, "cell"), "integer"),
                 "features.tsv.gz", v3_features(), "barcodes.tsv.gz")
    v2_genes = "".join(f"{i}\t{g}\n" for i, g in zip(fm.GENE_IDS, fm.GENES))
    write_folder("v2", "matrix.mtx", mtx_bytes(genes_by_cells(counts, "gene"), "integer"),
                 "genes.tsv", v2_genes, "barcodes.tsv")
    reals = fm.X.astype(np.float64)
    write_folder("real", "matrix.mtx.gz", mtx_bytes(genes_by_cells(reals, "cell"), "real"),
                 "features.tsv.gz", v3_features(), "barcodes.tsv.gz")
    eighths = fm.X.astype(np.float64) / 8
    write_folder("fractional", "matrix.mtx.gz",
                 mtx_bytes(genes_by_cells(eighths, "cell"), "real"),
                 "features.tsv.gz", v3_features(), "barcodes.tsv.gz")


def make_csv():
    os.makedirs(CSV, exist_ok=True)
    counts = pd.DataFrame(fm.X.astype(np.int64), index=fm.CELLS, columns=fm.GENES)
    # R's write.csv: every name quoted, the corner cell "" included, numbers bare.
    counts.to_csv(os.path.join(CSV, "cells_by_genes.csv"), quoting=csv.QUOTE_NONNUMERIC,
                  lineterminator="\n")
    # R's write.table(t(x), sep = "\t"): quoted names and a header without the corner cell,
    # which pandas cannot leave out, so the header line is written by the csv module.
    genes = counts.T
    out = io.StringIO()
    csv.writer(out, delimiter="\t", quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(
        list(genes.columns))
    genes.to_csv(out, sep="\t", header=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    write_text(os.path.join(CSV, "genes_by_cells.tsv"), out.getvalue())
    floats = pd.DataFrame(fm.X.astype(np.float64), index=fm.CELLS, columns=fm.GENES)
    write_text(os.path.join(CSV, "cells_by_genes.tsv.gz"),
               floats.to_csv(sep="\t", lineterminator="\n"))


def main():
    make_mtx()
    make_csv()
    print("wrote", MTX, "and", CSV)


if __name__ == "__main__":
    main()
