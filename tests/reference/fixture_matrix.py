"""The one small matrix every I/O fixture holds, in every format.

Imported by the fixture generators under tests/reference/ so that the same values, names and
annotations reach h5ad (dense, CSR, CSC, anndata 0.7 and 0.8 layouts), 10x h5, MTX and CSV files.
The C++ tests assert that each reader yields exactly these CSR buffers.
Provenance: hand-chosen values; numpy/scipy only re-express them.
"""
import numpy as np

# 6 cells x 5 genes; cell 3 is all-zero and gene 'G4' is zero except one cell, so that empty
# rows and nearly empty columns are exercised; one large count checks integer widths.
X = np.array([
    [0, 3, 0, 1, 0],
    [5, 0, 0, 0, 2],
    [0, 0, 7, 0, 0],
    [0, 0, 0, 0, 0],
    [1, 1, 1, 1, 1],
    [0, 100000, 0, 0, 9],
], dtype=np.float32)

CELLS = ["AAAC-1", "AAAG-1", "AACT-1", "AAGT-1", "ACGT-1", "ACTG-1"]
GENES = ["CD3E", "MS4A1", "LYZ", "NKG7", "G4"]
GENE_IDS = ["ENSG01", "ENSG02", "ENSG03", "ENSG04", "ENSG05"]

# obs columns of every kind anndata stores.
CELL_TYPE = ["T", "B", "Mono", "T", "B", "NK"]          # categorical
DONOR = ["d1", "d1", "d2", "d2", "d1", "d2"]            # categorical
SCORE = [0.5, 1.25, -2.0, 0.0, 3.5, 1e-3]               # float64
N_GENES = [2, 2, 1, 0, 5, 2]                            # int64
IS_DOUBLET = [False, False, True, False, False, True]   # bool
NOTE = ["a", "b", "c", "d", "e", "f"]                   # string
