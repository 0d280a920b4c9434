"""Reference CDFs for cellvae's random number generator (tests/core/test_random.cpp).

Tool: Debian's /usr/bin/python3 with scipy.stats (version printed in the header).
Writes tests/data/core/distribution_cdfs.txt: for each distribution, the CDF at the listed
points; the C++ test compares empirical CDFs of 200,000 draws against these values.
Run: /usr/bin/python3 tests/reference/make_core_reference.py
"""
import os
import scipy
from scipy import stats

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "data", "core", "distribution_cdfs.txt")

rows = []
# name params... | point cdf pairs
for lam in (3.0, 30.0, 400.0):  # inversion branch, and PTRS at moderate and large means
    d = stats.poisson(lam)
    lo, hi = int(d.ppf(0.01)), int(d.ppf(0.99))
    pts = sorted(set(int(x) for x in range(lo, hi + 1, max(1, (hi - lo) // 8))))
    rows.append(("poisson", [lam], [(k, d.cdf(k)) for k in pts]))
for mu, theta in ((5.0, 2.0), (0.3, 0.5), (50.0, 10.0)):
    p = theta / (theta + mu)
    d = stats.nbinom(theta, p)
    lo, hi = int(d.ppf(0.01)), int(d.ppf(0.99))
    pts = sorted(set(int(x) for x in range(lo, hi + 1, max(1, (hi - lo) // 8))))
    rows.append(("nbinom", [mu, theta], [(k, d.cdf(k)) for k in pts]))
for shape in (0.3, 1.0, 4.5):
    d = stats.gamma(shape)
    pts = [d.ppf(q) for q in (0.05, 0.2, 0.4, 0.6, 0.8, 0.95)]
    rows.append(("gamma", [shape], [(x, d.cdf(x)) for x in pts]))
d = stats.norm()
rows.append(("normal", [], [(x, d.cdf(x)) for x in (-2.0, -1.0, -0.3, 0.0, 0.5, 1.5)]))

with open(out, "w") as f:
    f.write(f"# scipy {scipy.__version__} stats CDFs; format: name n_params params... n_points (x cdf)...\n")
    for name, params, pts in rows:
        f.write(" ".join([name, str(len(params))] + [repr(float(p)) for p in params] + [str(len(pts))]
                         + [f"{float(x)!r} {float(c)!r}" for x, c in pts]) + "\n")
print("wrote", out)
