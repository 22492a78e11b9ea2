#!/usr/bin/env python3
"""bench_bert.py — `make bench-bert`: our BERT encoder vs ONNX Runtime vs PyTorch, same ids, same threads.

    python3 tools/bench/bench_bert.py [--build build] [--model weights/all-MiniLM-L6-v2] [--threads 2]
                                      [--batches 1,8,32] [--seqs 32,128] [--seconds 2] [--rounds 1]
                                      [--json-out FILE]

1. Real sentences: reviews from ../shared/data/amazon2018-all-beauty-5core (read at run time, never copied)
   with at least max(seqs) tokens, tokenized by HF BertTokenizerFast and cut to max(seqs) -> ids.npy [64, S].
   Every peer gets exactly the same ids (for seq S: first S-1 ids + the final [SEP]), no padding anywhere.
2. Runs each implementation in its own process (so peak RSS is its own), 2 threads each:
     tastegraph f32 and bf16   ($BUILD/bench_bert)
     onnxruntime f32           model exported from the same weights with torch.onnx (opset 17), then
                               onnxruntime.transformers.optimizer (model_type bert: fused attention,
                               LayerNorm, GELU); intra_op_num_threads = threads, inter_op 1
     pytorch f32               transformers BertModel (eager/sdpa), torch.inference_mode
   Each times one warm-up batch, then consecutive batches for at least --seconds.
   --rounds R repeats the whole set R times (the order reversed every other round) and reports, per
   configuration, the median sentences/s of each implementation and the median of the per-round ratios,
   with their range: on a shared machine whose speed drifts by 10-20 % between minutes, a ratio of two runs
   made next to each other is steadier than either run (make bench-bert ROUNDS=3).
3. Prints a table (sentences/s, ms per batch, GFLOP/s and % of this machine's peak, peak RSS, our ratio to
   each peer) and the same as JSON lines, plus the cosine between our bf16 and f32 mean-pooled embeddings.
4. Puts each speed goal of the BERT issue next to the ceiling it must fit under: the encoder's arithmetic
   (model_flops: every GEMM and the attention products, counted from config.json) at the goal's rate, as a
   share of the FMA peak that $BUILD/bench_gemm --peak-only measures (f32 FMAs; vdpbf16ps for bf16 when the
   bf16 GEMM kernel is "dot", the f32 FMAs when it is "wide", see src/tensor/gemm.h). A goal
   over 100 % cannot be met on this CPU by any implementation that does the model's arithmetic.
The machine may be shared: timings are noisy, compare within one run.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "..", "shared", "data", "amazon2018-all-beauty-5core", "All_Beauty_5.json")


def peak_rss_mb():
    """Peak resident set of this process: VmHWM (per address space, so unlike getrusage's ru_maxrss it does
    not inherit the parent's peak across fork + exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def make_ids(model, smax, n, path):
    import numpy as np
    from transformers import BertTokenizerFast
    tok = BertTokenizerFast(os.path.join(model, "vocab.txt"), do_lower_case=True)
    rows, seen = [], set()
    with open(DATA, encoding="utf-8") as f:
        for line in f:
            t = json.loads(line).get("reviewText", "")
            if not t or t in seen:
                continue
            ids = tok(t, truncation=True, max_length=smax)["input_ids"]
            if len(ids) == smax:
                seen.add(t)
                rows.append(ids)
                if len(rows) == n:
                    break
    np.save(path, np.array(rows, dtype=np.int32))


def model_flops(cfg, s):
    """Floating-point operations of one encoder forward over a sentence of s tokens (multiply-add = 2):
    per layer and token the Q, K, V and output projections (4 h^2 MACs) and the feed-forward (2 h I), plus
    the attention products Q K^T and P V (2 s h); then the pooler's dense layer once. Embeddings, softmax,
    LayerNorm and GELU are O(s h) and left out, so this is a lower bound on the work."""
    h, i, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    return 2.0 * (n * s * (4 * h * h + 2 * h * i + 2 * s * h) + h * h)


def machine_peaks(build, threads):
    """(f32, bf16) FMA peaks in GFLOP/s from bench_gemm --peak-only; (0, 0) when it is not built."""
    exe = os.path.join(build, "bench_gemm")
    if not os.path.exists(exe):
        return 0.0, 0.0
    for r in run_lines([exe, "--peak-only", "--threads", str(threads)]):
        if r.get("bench") == "peak":
            return r["f32_gflops"], r["bf16_gflops"]
    return 0.0, 0.0


def cut(ids, s):
    import numpy as np
    out = ids[:, :s].copy()
    out[:, s - 1] = ids[:, -1]
    return out


def time_peer(run, ids, batches, seqs, seconds, impl, threads):
    """run(batch_ids int64 [B, S]) -> last hidden state. Prints JSON lines like bench_bert.cpp."""
    import numpy as np
    n = ids.shape[0]
    for s in seqs:
        x = cut(ids, s).astype(np.int64)
        for b in batches:
            nxt = [0]

            def batch():
                r = [(nxt[0] + i) % n for i in range(b)]
                nxt[0] += b
                return x[r]

            run(batch())
            iters, t0 = 0, time.perf_counter()
            while True:
                run(batch())
                iters += 1
                el = time.perf_counter() - t0
                if el >= seconds and iters >= 3:
                    break
            ms = 1e3 * el / iters
            print(json.dumps({"impl": impl, "dtype": "f32", "threads": threads, "batch": b, "seq": s,
                              "ms_per_batch": round(ms, 3), "sent_per_s": round(1e3 * b / ms, 2),
                              "peak_rss_mb": round(peak_rss_mb(), 1)}), flush=True)


def peer_torch(a, ids):
    import torch
    from transformers import BertModel
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    model = BertModel.from_pretrained(a.model).eval()

    def run(x):
        with torch.inference_mode():
            t = torch.from_numpy(x)
            return model(input_ids=t, attention_mask=torch.ones_like(t), token_type_ids=torch.zeros_like(t))[0]

    time_peer(run, ids, a.batch_list, a.seq_list, a.seconds, "pytorch", a.threads)


def export_onnx(model_dir, out_dir):
    """torch.onnx export + ORT transformer optimizer; cached in out_dir."""
    opt = os.path.join(out_dir, "minilm_opt.onnx")
    if os.path.exists(opt):
        return opt
    import torch
    from transformers import BertModel
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions
    os.makedirs(out_dir, exist_ok=True)
    raw = os.path.join(out_dir, "minilm.onnx")
    bert = BertModel.from_pretrained(model_dir, attn_implementation="eager").eval()

    class Wrap(torch.nn.Module):  # positional inputs -> keyword call (BertModel's positional order changes)
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            o = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return o.last_hidden_state, o.pooler_output

    x = torch.ones(2, 16, dtype=torch.long)
    torch.onnx.export(Wrap(bert), (x, x, torch.zeros_like(x)), raw, input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state", "pooler_output"], opset_version=17, dynamo=False,
                      dynamic_axes={n: {0: "batch", 1: "seq"} for n in ["input_ids", "attention_mask", "token_type_ids"]}
                      | {"last_hidden_state": {0: "batch", 1: "seq"}, "pooler_output": {0: "batch"}})
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    m = optimizer.optimize_model(raw, model_type="bert", num_heads=cfg["num_attention_heads"],
                                 hidden_size=cfg["hidden_size"], optimization_options=FusionOptions("bert"))
    m.save_model_to_file(opt)
    print(f"bench_bert: ORT optimizer fused ops: {m.get_fused_operator_statistics()}", file=sys.stderr)
    return opt


def peer_ort(a, ids):
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])

    def run(x):
        return sess.run(["last_hidden_state"], {"input_ids": x, "attention_mask": np.ones_like(x),
                                                "token_type_ids": np.zeros_like(x)})[0]

    time_peer(run, ids, a.batch_list, a.seq_list, a.seconds, "onnxruntime", a.threads)


def run_lines(cmd, env=None):
    print("bench_bert: " + " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"bench_bert: {cmd[0]} failed with exit code {p.returncode}")
    return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--model", default=os.path.join(ROOT, "weights", "all-MiniLM-L6-v2"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--seqs", default="32,128")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json-out", default="")
    ap.add_argument("--peer", choices=["torch", "ort"], help=argparse.SUPPRESS)  # internal: child process
    ap.add_argument("--ids", help=argparse.SUPPRESS)
    ap.add_argument("--onnx", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.batch_list = [int(x) for x in a.batches.split(",")]
    a.seq_list = [int(x) for x in a.seqs.split(",")]

    if a.peer:
        import numpy as np
        ids = np.load(a.ids)
        (peer_torch if a.peer == "torch" else peer_ort)(a, ids)
        return

    if not os.path.exists(os.path.join(a.model, "model.safetensors")):
        sys.exit(f"bench_bert: {a.model} missing: run `make weights` first")
    build = os.path.join(ROOT, a.build) if not os.path.isabs(a.build) else a.build
    work = os.path.join(build, "bench_bert_work")
    os.makedirs(work, exist_ok=True)
    ids_path = os.path.join(work, f"ids_{max(a.seq_list)}.npy")
    if not os.path.exists(ids_path):
        make_ids(a.model, max(a.seq_list), 64, ids_path)
    onnx_path = export_onnx(a.model, work)

    with open(os.path.join(a.model, "config.json")) as f:
        cfg = json.load(f)
    peak32, peak16 = machine_peaks(build, a.threads)  # first, while nothing else of ours runs
    common = ["--batches", a.batches, "--seqs", a.seqs, "--seconds", str(a.seconds), "--threads", str(a.threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    me = [sys.executable, os.path.abspath(__file__), "--ids", ids_path, "--onnx", onnx_path, "--model", a.model] + common

    def ours(k):  # the embeddings for the bf16-vs-f32 cosine are written in the first round only
        out = []
        for dt in ["f32", "bf16"]:
            emb = ["--emb-out", os.path.join(work, f"emb_{dt}.npy")] if k == 0 else []
            out += run_lines([os.path.join(build, "bench_bert"), "--model", a.model, "--ids", ids_path, "--dtype", dt]
                             + emb + common, env)
        return out

    steps = [ours, lambda k: run_lines(me + ["--peer", "ort"], env), lambda k: run_lines(me + ["--peer", "torch"], env)]
    rounds = []  # one list of result rows per round
    for k in range(max(1, a.rounds)):
        rounds.append([r for step in (steps if k % 2 == 0 else steps[::-1]) for r in step(k)])
    res = rounds[0]
    # The peak again, after the timings: a short probe can land in a moment when the host lends one of
    # the cores elsewhere (seen: the 2-thread probe reading exactly the 1-thread figure), so the higher of
    # the two readings is the ceiling, and a large disagreement is reported.
    end32, end16 = machine_peaks(build, a.threads)
    if min(peak32, end32) > 0 and max(peak32, end32) > 1.15 * min(peak32, end32):
        print(f"bench_bert: FMA peak read {peak32:.0f} GFLOP/s f32 before the timings and {end32:.0f} after; "
              f"using the higher (the host was busy during one probe)", file=sys.stderr)
    peak32, peak16 = max(peak32, end32), max(peak16, end16)

    import numpy as np
    e32, e16 = np.load(os.path.join(work, "emb_f32.npy")), np.load(os.path.join(work, "emb_bf16.npy"))
    cos = (e32 * e16).sum(1) / np.linalg.norm(e32, axis=1) / np.linalg.norm(e16, axis=1)

    def get_in(rows, impl, dt, b, s):
        for r in rows:
            if r["impl"] == impl and r["dtype"] == dt and r["batch"] == b and r["seq"] == s:
                return r
        return None

    def get(impl, dt, b, s):
        """The round with the median sentences/s (the lower median for an even count), peak RSS over all rounds."""
        rs = [r for r in (get_in(x, impl, dt, b, s) for x in rounds) if r is not None]
        if not rs:
            return None
        rs.sort(key=lambda r: r["sent_per_s"])
        return dict(rs[(len(rs) - 1) // 2], peak_rss_mb=max(r["peak_rss_mb"] for r in rs))

    def ratios(impl, dt, b, s, peer):
        """Per-round ratio of impl's sentences/s to the peer's (both measured in that round)."""
        out = []
        for x in rounds:
            r, p = get_in(x, impl, dt, b, s), get_in(x, peer, "f32", b, s)
            if r is not None and p is not None:
                out.append(r["sent_per_s"] / p["sent_per_s"])
        return out

    def median(v):
        return statistics.median(v) if v else float("nan")

    w_mb = os.path.getsize(os.path.join(a.model, "model.safetensors")) / 2**20
    print(f"\nBERT encoder benchmark: {os.path.basename(a.model)}, {a.threads} threads, real sentences "
          f"(weights {w_mb:.1f} MB; RSS goal <= {1.5 * w_mb + 100:.0f} MB)")
    if len(rounds) > 1:
        print(f"{len(rounds)} rounds: sentences/s are each implementation's median round, ratios the median of the "
              f"per-round ratios [their range]")
    if peak32 > 0:
        print(f"FMA peak of this machine, {a.threads} threads: {peak32:.0f} GFLOP/s f32"
              + (f", {peak16:.0f} GFLOP/s bf16 (vdpbf16ps)" if peak16 > 0 else "") + " (tools/bench/bench_gemm)")

    def gflops(r):
        return r["sent_per_s"] * model_flops(cfg, r["seq"]) * 1e-9

    # bf16 weights run on vdpbf16ps ("dot", its own peak) or on the f32 FMAs ("wide", "f32-widened")
    bf16_gemm = next((r.get("gemm", "dot") for r in res if r["impl"] == "tastegraph" and r["dtype"] == "bf16"), "dot")
    print(f"bf16 GEMM kernel: {bf16_gemm} (TG_BF16_GEMM=dot|wide chooses; src/tensor/gemm.h)")

    def ceiling(dt):  # the FMA peak a dtype's GEMMs run against (0 when unknown)
        return peak16 if dt == "bf16" and bf16_gemm == "dot" and peak16 > 0 else peak32

    def share(gf, dt):  # percent of the ceiling for that dtype ("-" when unknown)
        pk = ceiling(dt)
        return f"{100 * gf / pk:4.0f}%" if pk > 0 else "    -"

    hdr = (f"{'batch':>5} {'seq':>4} | {'impl':<16} {'sent/s':>9} {'ms/batch':>9} {'GF/s':>6} {'%pk':>5} {'RSS MB':>7} | "
           f"{'vs ORT':>7} {'vs torch':>8}")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for s in a.seq_list:
        for b in a.batch_list:
            for impl, dt in [("tastegraph", "f32"), ("tastegraph", "bf16"), ("onnxruntime", "f32"), ("pytorch", "f32")]:
                r = get(impl, dt, b, s)
                if r is None:
                    continue
                name = f"{impl} {dt}"
                ratio = ""
                if impl == "tastegraph":  # the peers' rows carry no ratios
                    ro, rp = ratios(impl, dt, b, s, "onnxruntime"), ratios(impl, dt, b, s, "pytorch")
                    vs_ort, vs_pt = median(ro), median(rp)
                    ratio = f"{vs_ort:6.2f}x {vs_pt:7.2f}x" + (f"  [{min(ro):.2f}-{max(ro):.2f}x ORT]" if len(ro) > 1 else "")
                gf = gflops(r)
                print(f"{b:>5} {s:>4} | {name:<16} {r['sent_per_s']:9.1f} {r['ms_per_batch']:9.2f} {gf:6.0f} "
                      f"{share(gf, dt)} {r['peak_rss_mb']:7.0f} | {ratio}")
                r = dict(r, gflops=round(gf, 1))
                if impl == "tastegraph":
                    r = dict(r, ratio_vs_ort=round(vs_ort, 3), ratio_vs_pytorch=round(vs_pt, 3))
                    if len(rounds) > 1:
                        r = dict(r, rounds=len(rounds), ratio_vs_ort_rounds=[round(x, 3) for x in ro])
                rows.append(r)
            print()
    print(f"bf16 vs f32 mean-pooled embeddings (32 sentences, seq {max(a.seq_list)}): min cosine {cos.min():.6f}")
    rows.append({"check": "bf16_vs_f32_cosine_min", "value": float(cos.min())})

    # The speed goals, each as the throughput it asks for and the arithmetic rate that implies.
    goals = [("f32 throughput >= 1.4x ORT", "f32", 32, 128, 1.4), ("f32 latency <= 0.8x ORT", "f32", 1, 128, 1 / 0.8),
             ("bf16 throughput >= 2.3x ORT f32", "bf16", 32, 128, 2.3)]
    print(f"\nSpeed goals against this machine's ceiling (arithmetic the goal implies / FMA peak):")
    for label, dt, b, s, factor in goals:
        ort_r, ours = get("onnxruntime", "f32", b, s), get("tastegraph", dt, b, s)
        if ort_r is None or ours is None:
            continue
        need = factor * ort_r["sent_per_s"]  # sentences/s the goal asks for
        need_gf = need * model_flops(cfg, s) * 1e-9
        ro = ratios("tastegraph", dt, b, s, "onnxruntime")
        print(f"  {label:<32} at {b} x {s}: needs {need:7.1f} sent/s = {need_gf:4.0f} GFLOP/s = "
              f"{share(need_gf, dt).strip():>5} of peak; ours {ours['sent_per_s']:7.1f} sent/s "
              f"({median(ro):.2f}x ORT, {share(gflops(ours), dt).strip()} of peak)"
              + (f"; met in {sum(x >= factor for x in ro)} of {len(ro)} rounds" if len(ro) > 1 else ""))
        rows.append({"check": "goal", "goal": label, "dtype": dt, "batch": b, "seq": s,
                     "needed_sent_per_s": round(need, 2), "needed_gflops": round(need_gf, 1),
                     "peak_gflops": round(ceiling(dt), 1), "ours_sent_per_s": ours["sent_per_s"],
                     "ratio_vs_ort": round(median(ro), 3), "needed_ratio": round(factor, 3)}
                    | ({"rounds_met": sum(x >= factor for x in ro), "rounds": len(ro)} if len(ro) > 1 else {}))
    print("\nJSON lines:")
    for r in rows:
        print(json.dumps(r))
    if a.json_out:
        with open(a.json_out, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
