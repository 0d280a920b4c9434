#!/usr/bin/env python3
"""Training speed: cellvae against the PyTorch reference (../shared/bench/ref_torch.py), in one run.

For every (data set, preset) pair both tools train the same architecture for the same epochs
with the same threads, one after the other:

  cellvae   cellvae fit DATA -o MODEL --preset P [--batch-key K] --epochs N --threads T -q
            s/epoch = median of MODEL/history.csv `seconds` over epochs 2..N (training steps
            only, the validation pass excluded, as the reference times it); then
            cellvae generate MODEL -n 20000 -o x.h5ad, wall clock -> generated cells/s.
  reference /usr/bin/python3 ref_torch.py DATA --model P [--batch-key K] --epochs N
            --threads T --blas-threads 1 --no-gen --sgemm   (its own clean-epoch median)

Both run under /usr/bin/time -v (peak RSS). Threads: LibTorch's OpenMP pool gets T threads and
OpenBLAS 1 on both sides (cellvae's configure_threads; the reference's --blas-threads 1),
OPENBLAS_CORETYPE is whatever the environment holds (recorded), and OMP_WAIT_POLICY is set the
same for both (default PASSIVE: on a shared 2-core machine, libgomp's spin-waiting makes every
parallel region wait for a descheduled thread; see bench/README.md). The machine's
matrix-multiply ceiling is the reference's --sgemm (4096^2 float32) with T BLAS threads,
measured in the same run.

FLOPs: the reference's count of matrix-product FLOPs per training cell (its JSON
flops.per_cell.train_exact: forward + backward of every Linear, no input gradient for layers
reading the data) is used for both tools, times training cells / s per epoch. Elementwise work
(likelihood, softmax, optimizer) is not counted, so it is a lower bound on work done.

Machine noise: for each run the CPU used by other processes meanwhile (/proc/stat busy time
minus the run's own CPU time) is recorded as `foreign_cpu_fraction` (of one core); above ~0.1
the timings are not trustworthy.

    bench/train.sh [--epochs 5] [--threads 2] [--quick] [--large] [--only kang] [--out FILE]
                   [--baseline OLD_CELLVAE]

With --baseline, an older cellvae program is trained too (same data, options and threads, right
after the current one), and the table adds before/after ratios.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
REF = os.path.join(SHARED, "bench", "ref_torch.py")
SYNTH = os.path.join(SHARED, "bench", "make_synth.py")
KANG = os.path.join(SHARED, "data", "kang_pbmc", "kang_pbmc.h5ad")
PY = "/usr/bin/python3"


def cache_dir():
    d = os.environ.get("CELLVAE_BENCH_DATA")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or "/tmp"
        d = os.path.join(base, "cellvae-bench")
    os.makedirs(d, exist_ok=True)
    return d


def datasets(args):
    """(name, path, batch_key, make_synth args or None)."""
    out = []
    if os.path.exists(KANG):
        out.append(("kang_pbmc", KANG, "donor", None))
    if not args.quick:
        out.append(("synth_10k_2k", None, "batch",
                    ["--cells", "10000", "--genes", "2000", "--lib-median", "1500", "--seed", "1"]))
        out.append(("synth_2k_20k", None, "batch",
                    ["--cells", "2000", "--genes", "20000", "--lib-median", "3000", "--seed", "1"]))
    if args.large:
        out.append(("synth_1m_2k", None, "batch",
                    ["--cells", "1000000", "--genes", "2000", "--lib-median", "300", "--seed", "1"]))
    if args.only:
        keep = set(args.only.split(","))
        out = [d for d in out if d[0] in keep]
    resolved = []
    for name, path, key, synth in out:
        if path is None:
            path = os.path.join(cache_dir(), name + ".h5ad")
            if not os.path.exists(path):
                print(f"making {path} (once)", file=sys.stderr)
                subprocess.run([PY, SYNTH, *synth, "--out", path + ".tmp.h5ad"], check=True,
                               stdout=subprocess.DEVNULL)
                os.replace(path + ".tmp.h5ad", path)
        resolved.append((name, path, key))
    return resolved


def proc_busy():
    with open("/proc/stat") as fh:
        f = fh.readline().split()
    v = [int(x) for x in f[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")


def timed(cmd, env):
    """Runs cmd under /usr/bin/time -v; returns wall s, peak RSS MB, own CPU s, foreign CPU."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        busy0, t0 = proc_busy(), time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-v", "-o", tf.name, *cmd], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall, busy1 = time.perf_counter() - t0, proc_busy()
        if p.returncode != 0:
            sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
            raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}")
        text = tf.read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    foreign = max(0.0, (busy1 - busy0) - user - system)
    return {"wall_s": round(wall, 3), "peak_rss_mb": round(rss, 1),
            "cpu_s": round(user + system, 2),
            "foreign_cpu_fraction": round(foreign / wall, 3)}, p.stdout


def median_epochs(seconds):
    steady = seconds[1:] if len(seconds) > 1 else seconds
    return statistics.median(steady)


def run_cellvae(args, env, name, path, key, preset, work, program=None, generate=True):
    program = program or args.cellvae
    model = os.path.join(work, f"{name}_{preset}")
    cmd = [program, "fit", path, "-o", model, "--preset", preset, "--epochs",
           str(args.epochs), "--threads", str(args.threads), "--seed", "0", "-q", "--force"]
    if preset == "scvi" and key:
        cmd += ["--batch-key", key]
    run, _ = timed(cmd, env)
    with open(os.path.join(model, "history.csv")) as fh:
        head = fh.readline().strip().split(",")
        lines = [line.strip().split(",") for line in fh if line.strip()]
    seconds = [float(v[head.index("seconds")]) for v in lines]
    validation_loss = float(lines[-1][head.index("validation_loss")]) if lines else None
    with open(os.path.join(model, "model.json")) as fh:
        info = json.load(fh)
    data_info = info.get("data") or {}
    n_train = data_info.get("n_train")
    out = {"command": " ".join(cmd), "run": run, "epoch_seconds": seconds,
           "s_per_epoch_median": round(median_epochs(seconds), 4), "n_train": n_train,
           "n_genes": info.get("fit", {}).get("model", {}).get("n_genes"),
           "validation_loss_last_epoch": validation_loss}
    if generate and args.gen_cells > 0:
        gen_out = os.path.join(work, f"{name}_{preset}_generated.h5ad")
        gcmd = [args.cellvae, "generate", model, "-n", str(args.gen_cells), "-o", gen_out,
                "--threads", str(args.threads), "--seed", "0", "-q", "--force"]
        grun, _ = timed(gcmd, env)
        out["generation"] = {"command": " ".join(gcmd), "run": grun, "cells": args.gen_cells,
                             "cells_per_second": round(args.gen_cells / grun["wall_s"], 1)}
        os.remove(gen_out)
    return out


def run_reference(args, env, name, path, key, preset, work):
    out_json = os.path.join(work, f"ref_{name}_{preset}.json")
    cmd = [PY, REF, path, "--model", preset, "--epochs", str(args.epochs), "--threads",
           str(args.threads), "--blas-threads", "1", "--no-gen", "--sgemm", "--out", out_json]
    if preset == "scvi" and key:
        cmd += ["--batch-key", key]
    run, _ = timed(cmd, env)
    with open(out_json) as fh:
        ref = json.load(fh)
    return {"command": " ".join(cmd), "run": run, "json": ref}


def sgemm(args, env, work):
    out_json = os.path.join(work, "sgemm.json")
    e = dict(env, OPENBLAS_NUM_THREADS=str(args.threads))
    subprocess.run([PY, REF, "--sgemm", "--threads", str(args.threads), "--out", out_json],
                   env=e, check=True, stdout=subprocess.DEVNULL)
    with open(out_json) as fh:
        return json.load(fh)["sgemm"]


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cellvae", required=True, help="the cellvae program")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--presets", default="scvi,vaexprs")
    ap.add_argument("--only", default=None, help="comma-separated data set names")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: kang_pbmc, scvi, 2 epochs, 2000 generated cells")
    ap.add_argument("--large", action="store_true", help="add the 1M x 2k synthetic set")
    ap.add_argument("--gen-cells", type=int, default=20000)
    ap.add_argument("--wait-policy", default="PASSIVE",
                    help="OMP_WAIT_POLICY for both tools; 'inherit' keeps the environment's")
    ap.add_argument("--out", default=None)
    ap.add_argument("--baseline", default=None,
                    help="another cellvae program (e.g. a build of the previous commit) trained "
                         "in the same run, for a before/after ratio")
    args = ap.parse_args()
    if args.quick:
        args.epochs = min(args.epochs, 2)
        args.presets = "scvi"
        args.gen_cells = min(args.gen_cells, 2000)
    if args.epochs < 2:
        ap.error("--epochs must be >= 2 (epoch 1 is warm-up and not counted)")

    env = dict(os.environ)
    if args.wait_policy != "inherit":
        env["OMP_WAIT_POLICY"] = args.wait_policy
    env.pop("OMP_NUM_THREADS", None)
    env.pop("OPENBLAS_NUM_THREADS", None)

    work = tempfile.mkdtemp(prefix="cellvae-train-bench-")
    started = time.time()
    result = {
        "benchmark": "train",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "epochs": args.epochs, "threads": args.threads,
        "settings": {
            "cellvae": f"--threads {args.threads} (LibTorch OpenMP {args.threads}, OpenBLAS 1)",
            "reference": f"--threads {args.threads} --blas-threads 1",
            "OPENBLAS_CORETYPE": env.get("OPENBLAS_CORETYPE"),
            "OMP_WAIT_POLICY": env.get("OMP_WAIT_POLICY"),
            "GOMP_SPINCOUNT": env.get("GOMP_SPINCOUNT"),
            "nproc": os.cpu_count(),
            "loadavg_start": open("/proc/loadavg").read().split()[:3],
        },
        "cellvae_version": subprocess.run([args.cellvae, "--version"], capture_output=True,
                                          text=True).stdout.strip(),
        "baseline": args.baseline,
        "runs": [],
    }
    result["sgemm"] = sgemm(args, env, work)
    ceiling = result["sgemm"]["gflops_best"]
    for name, path, key in datasets(args):
        for preset in args.presets.split(","):
            print(f"== {name} {preset}", file=sys.stderr)
            c = run_cellvae(args, env, name, path, key, preset, work)
            b = (run_cellvae(args, env, name, path, key, preset, work, args.baseline, False)
                 if args.baseline else None)
            r = run_reference(args, env, name, path, key, preset, work)
            rj = r["json"]
            flop_cell = rj["flops"]["per_cell"]["train_exact"]
            ref_s = rj["s_per_epoch_median"]
            row = {
                "dataset": name, "preset": preset, "cells": rj["dataset"]["n_cells"],
                "genes": rj["dataset"]["n_genes"], "batch_key": key if preset == "scvi" else None,
                "flop_per_train_cell": flop_cell,
                "cellvae": c,
                "reference": {k: r[k] for k in ("command", "run")},
                "reference_summary": {
                    "s_per_epoch_median": ref_s, "n_train": rj["dataset"]["n_train"],
                    "n_clean_epochs": rj.get("n_clean_epochs"),
                    "contaminated": rj.get("contaminated"),
                    "epoch_seconds": rj.get("epoch_seconds"),
                    "final": rj.get("final"), "peak_rss_mb_self": rj.get("peak_rss_mb"),
                    "sgemm": rj.get("sgemm"), "environment": rj.get("environment")},
            }
            c_s = c["s_per_epoch_median"]
            c_n = c["n_train"] or rj["dataset"]["n_train"]
            r_n = rj["dataset"]["n_train"]
            row["summary"] = {
                "cellvae_s_per_epoch": c_s, "reference_s_per_epoch": ref_s,
                "ratio_cellvae_over_reference": round(c_s / ref_s, 3),
                "cellvae_cells_per_s": round(c_n / c_s, 1),
                "reference_cells_per_s": round(r_n / ref_s, 1),
                "cellvae_gflops": round(flop_cell * c_n / c_s / 1e9, 2),
                "reference_gflops": round(flop_cell * r_n / ref_s / 1e9, 2),
                "sgemm_ceiling_gflops": ceiling,
                "cellvae_peak_rss_mb": c["run"]["peak_rss_mb"],
                "reference_peak_rss_mb": r["run"]["peak_rss_mb"],
                "cellvae_generation_cells_per_s":
                    c.get("generation", {}).get("cells_per_second"),
                "cellvae_foreign_cpu": c["run"]["foreign_cpu_fraction"],
                "reference_foreign_cpu": r["run"]["foreign_cpu_fraction"],
                "cellvae_validation_loss_last": c["validation_loss_last_epoch"],
                "reference_test_neg_elbo": (rj.get("final") or {}).get("test", {}).get(
                    "neg_elbo", (rj.get("final") or {}).get("test", {}).get("loss")),
            }
            if b is not None:
                row["baseline"] = b
                row["summary"]["baseline_s_per_epoch"] = b["s_per_epoch_median"]
                row["summary"]["ratio_baseline_over_reference"] = round(
                    b["s_per_epoch_median"] / ref_s, 3)
                row["summary"]["ratio_cellvae_over_baseline"] = round(
                    c_s / b["s_per_epoch_median"], 3)
                row["summary"]["baseline_foreign_cpu"] = b["run"]["foreign_cpu_fraction"]
            result["runs"].append(row)
    result["settings"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    result["seconds"] = round(time.time() - started, 1)
    shutil.rmtree(work, ignore_errors=True)

    out = args.out or os.path.join(
        ROOT, "bench", "results",
        f"train_{datetime.datetime.now().strftime('%Y%m%d_%H%M%S')}{'_quick' if args.quick else ''}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(result, fh, indent=1)

    s = result["settings"]
    print(f"threads {args.threads} (cellvae: {s['cellvae']}; reference: {s['reference']}); "
          f"OPENBLAS_CORETYPE={s['OPENBLAS_CORETYPE']} OMP_WAIT_POLICY={s['OMP_WAIT_POLICY']}; "
          f"epochs {args.epochs} (median of 2..{args.epochs}); sgemm ceiling {ceiling} GFLOP/s "
          f"({args.threads} BLAS threads); load {s['loadavg_start']} -> {s['loadavg_end']}")
    hdr = (f"{'data set':14s} {'preset':8s} {'cellvae s/ep':>12s} {'ref s/ep':>9s} {'ratio':>6s} "
           f"{'cv cells/s':>10s} {'ref cells/s':>11s} {'cv GF/s':>8s} {'ref GF/s':>8s} "
           f"{'%ceil cv':>8s} {'cv RSS MB':>9s} {'ref RSS MB':>10s} {'gen cells/s':>11s} "
           f"{'foreign cv/ref':>14s}")
    print(hdr)
    for row in result["runs"]:
        m = row["summary"]
        print(f"{row['dataset']:14s} {row['preset']:8s} {m['cellvae_s_per_epoch']:12.3f} "
              f"{m['reference_s_per_epoch']:9.3f} {m['ratio_cellvae_over_reference']:6.2f} "
              f"{m['cellvae_cells_per_s']:10.0f} {m['reference_cells_per_s']:11.0f} "
              f"{m['cellvae_gflops']:8.1f} {m['reference_gflops']:8.1f} "
              f"{100 * m['cellvae_gflops'] / ceiling:7.1f}% {m['cellvae_peak_rss_mb']:9.0f} "
              f"{m['reference_peak_rss_mb']:10.0f} "
              f"{fmt(m['cellvae_generation_cells_per_s'], '11.0f')} "
              f"{m['cellvae_foreign_cpu']:6.2f}/{m['reference_foreign_cpu']:.2f}")
    if args.baseline:
        print(f"baseline {args.baseline}:")
        print(f"{'data set':14s} {'preset':8s} {'before s/ep':>11s} {'after s/ep':>10s} "
              f"{'ref s/ep':>9s} {'before/ref':>10s} {'after/ref':>9s} {'after/before':>12s} "
              f"{'foreign after/before/ref':>24s}")
        for row in result["runs"]:
            m = row["summary"]
            if "baseline_s_per_epoch" not in m:
                continue
            print(f"{row['dataset']:14s} {row['preset']:8s} {m['baseline_s_per_epoch']:11.3f} "
                  f"{m['cellvae_s_per_epoch']:10.3f} {m['reference_s_per_epoch']:9.3f} "
                  f"{m['ratio_baseline_over_reference']:10.2f} "
                  f"{m['ratio_cellvae_over_reference']:9.2f} "
                  f"{m['ratio_cellvae_over_baseline']:12.2f} "
                  f"{m['cellvae_foreign_cpu']:10.2f}/{m['baseline_foreign_cpu']:.2f}/"
                  f"{m['reference_foreign_cpu']:.2f}")
    print(f"results: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
