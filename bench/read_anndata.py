"""Times anndata.read_h5ad on one file: `read_anndata.py FILE [repeats]` (Debian's python3).
Prints one JSON line like bench_read does."""
import json
import resource
import sys
import time

import anndata

path = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
seconds = []
for _ in range(repeats):
    t0 = time.perf_counter()
    a = anndata.read_h5ad(path)
    seconds.append(time.perf_counter() - t0)
    shape, nnz = a.shape, a.X.nnz
    del a
seconds.sort()
print(json.dumps({"tool": f"anndata {anndata.__version__}", "seconds": round(seconds[len(seconds) // 2], 4),
                  "cells": shape[0], "genes": shape[1], "nnz": int(nnz),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
