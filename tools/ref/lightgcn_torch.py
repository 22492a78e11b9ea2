#!/usr/bin/env python3
"""lightgcn_torch.py — the LightGCN computation in PyTorch, as the authors' official code does it.

Reference peer for `make bench-graph` (tools/bench/bench_graph.cpp): same model, loss and optimizer as
src/graph/lightgcn.h —
  * graph: torch.sparse COO of D^-1/2 [[0,R],[R^T,0]] D^-1/2 (dataloader.getSparseGraph),
  * forward: all_emb = cat(user, item); K times all_emb = torch.sparse.mm(G, all_emb); mean over layers
    (model.LightGCN.computer), recomputed for every batch,
  * loss: mean softplus(neg - pos) + reg * (|u0|^2 + |i0|^2 + |j0|^2) / 2 / B (model.bpr_loss),
  * Adam(lr), uniform sampling as utils.UniformSample_original_python (user uniform, a positive of
    the user, a negative redrawn until not a positive).
Modes:
  --bench N      time N batches (after 2 warm-up batches) and print JSON with seconds per batch and the
                 per-epoch extrapolation (epoch = ceil(n_train / batch) batches); also times
                 scipy.sparse.linalg.svds(R, k) and its singular values when --svd K is given.
  --epochs E     train E epochs and print Recall@20 / NDCG@20 (full ranking, train items masked).
  --checkpoint F score a tastegraph LightGCN model file (`tastegraph train -o F`) here, independently of the
                 engine: its ego embeddings (the weight average when the file keeps one, else the iterate) go
                 through this file's propagation and evaluate(); prints Recall@20 / NDCG@20 and how far the
                 propagated embeddings are from the ones the file stores for scoring.

    python3 tools/ref/lightgcn_torch.py --data ../shared/data/lightgcn-gowalla --bench 20 --threads 2
"""
import argparse
import json
import math
import time

import numpy as np
import scipy.sparse as sp
import torch


def load_lists(path):
    out = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 2:
                out[int(p[0])] = [int(x) for x in p[1:]]
    return out


def load(data):
    train = load_lists(data + "/train.txt")
    test = load_lists(data + "/test.txt")
    n_users = max(max(train), max(test)) + 1
    n_items = max(max(max(v) for v in train.values()), max(max(v) for v in test.values())) + 1
    rows = np.concatenate([np.full(len(v), u) for u, v in train.items()])
    cols = np.concatenate([np.array(v) for v in train.values()])
    R = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_users, n_items))
    R.data[:] = 1.0  # duplicates -> binary
    return R, train, test, n_users, n_items


def norm_adj(R):
    n_users, n_items = R.shape
    A = sp.bmat([[None, R], [R.T, None]], format="csr").astype(np.float32)
    deg = np.asarray(A.sum(axis=1)).ravel()
    dinv = np.zeros_like(deg)
    dinv[deg > 0] = deg[deg > 0] ** -0.5
    D = sp.diags(dinv)
    G = (D @ A @ D).tocoo()
    idx = torch.from_numpy(np.vstack([G.row, G.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(G.data.astype(np.float32)), G.shape).coalesce()


class LightGCN(torch.nn.Module):
    def __init__(self, n_users, n_items, dim, layers, G):
        super().__init__()
        self.n_users, self.layers, self.G = n_users, layers, G
        self.user = torch.nn.Embedding(n_users, dim)
        self.item = torch.nn.Embedding(n_items, dim)
        torch.nn.init.normal_(self.user.weight, std=0.1)
        torch.nn.init.normal_(self.item.weight, std=0.1)

    def computer(self):
        all_emb = torch.cat([self.user.weight, self.item.weight])
        embs = [all_emb]
        for _ in range(self.layers):
            all_emb = torch.sparse.mm(self.G, all_emb)
            embs.append(all_emb)
        out = torch.stack(embs, dim=1).mean(dim=1)
        return out[: self.n_users], out[self.n_users:]

    def bpr_loss(self, u, i, j, reg):
        users, items = self.computer()
        eu, ei, ej = users[u], items[i], items[j]
        u0, i0, j0 = self.user(u), self.item(i), self.item(j)
        reg_loss = 0.5 * (u0.norm(2).pow(2) + i0.norm(2).pow(2) + j0.norm(2).pow(2)) / float(len(u))
        pos, neg = (eu * ei).sum(1), (eu * ej).sum(1)
        return torch.mean(torch.nn.functional.softplus(neg - pos)) + reg * reg_loss


def sample(train, n_users, n_items, n, rng):
    users = rng.integers(0, n_users, n)
    out = []
    for u in users:
        pos = train.get(int(u))
        if not pos:
            continue
        i = pos[rng.integers(0, len(pos))]
        while True:
            j = int(rng.integers(0, n_items))
            if j not in pos:
                break
        out.append((u, i, j))
    return np.array(out, dtype=np.int64)


def evaluate(model, R, test, k=20):
    with torch.no_grad():
        users, items = model.computer()
    rec = ndcg = 0.0
    ulist = sorted(test)
    for b in range(0, len(ulist), 1024):
        ub = ulist[b:b + 1024]
        s = users[ub] @ items.T
        rows = R[ub]
        s[torch.from_numpy(np.repeat(np.arange(len(ub)), np.diff(rows.indptr))), torch.from_numpy(rows.indices.astype(np.int64))] = -np.inf
        top = torch.topk(s, k).indices.numpy()
        for r, u in enumerate(ub):
            t = set(test[u])
            hits = [1.0 if x in t else 0.0 for x in top[r]]
            rec += sum(hits) / len(t)
            idcg = sum(1 / math.log2(p + 2) for p in range(min(len(t), k)))
            ndcg += sum(h / math.log2(p + 2) for p, h in enumerate(hits)) / idcg
    return rec / len(ulist), ndcg / len(ulist)


def read_checkpoint(path):
    """A tastegraph model file (safetensors): its tensors as numpy arrays, and its metadata."""
    import struct
    dtypes = {"F32": np.float32, "I64": np.int64, "I32": np.int32, "U8": np.uint8}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(blob[b:e], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out, meta


def ids_of(t, blob, ends):
    """The original ids (ints here: the LightGCN format's) of the dense indices, from the id blob."""
    raw, e = t[blob].tobytes(), t[ends]
    starts = np.concatenate([[0], e[:-1]])
    return np.array([int(raw[s:x]) for s, x in zip(starts, e)], dtype=np.int64)


def eval_checkpoint(path, R, test, layers):
    t, meta = read_checkpoint(path)
    cfg = json.loads(meta["config"])
    assert meta.get("kind") == "lightgcn", f"{path}: kind {meta.get('kind')}, not lightgcn"
    users, items = ids_of(t, "user_ids", "user_id_ends"), ids_of(t, "item_ids", "item_id_ends")
    U, I = len(users), len(items)
    D = t["user_emb"].shape[1]
    ego = t["state.average_params"] if cfg.get("average_count", 0) > 0 else t["state.params"]
    ego = ego.reshape(U + I, D)
    n_users, n_items = R.shape
    model = LightGCN(n_users, n_items, D, layers, norm_adj(R))
    with torch.no_grad():  # rows of the file's dense indices go to the rows of their original ids
        model.user.weight.zero_()
        model.item.weight.zero_()
        model.user.weight[torch.from_numpy(users)] = torch.from_numpy(ego[:U].copy())
        model.item.weight[torch.from_numpy(items)] = torch.from_numpy(ego[U:].copy())
        pu, pi = model.computer()
    diff = max(float(np.abs(pu.numpy()[users] - t["user_emb"]).max()),
               float(np.abs(pi.numpy()[items] - t["item_emb"]).max()))
    r, n = evaluate(model, R, test)
    return {"checkpoint": path, "epoch": cfg.get("epoch"), "averaged_epochs": cfg.get("average_count", 0),
            "recall@20": r, "ndcg@20": n, "max_abs_diff_vs_stored_embeddings": diff}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--reg", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--bench", type=int, default=0, help="time this many batches")
    ap.add_argument("--svd", type=int, default=0, help="also time scipy svds of this rank")
    ap.add_argument("--epochs", type=int, default=0)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--checkpoint", default="", help="evaluate this tastegraph LightGCN model file")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if a.checkpoint:
        R, _, test, _, _ = load(a.data)
        print(json.dumps(eval_checkpoint(a.checkpoint, R, test, a.layers)))
        return
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    R, train, test, n_users, n_items = load(a.data)
    G = norm_adj(R)
    model = LightGCN(n_users, n_items, a.dim, a.layers, G)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    n_train = R.nnz
    batches_per_epoch = math.ceil(n_train / a.batch)

    def step(trip):
        t = torch.from_numpy(trip)
        loss = model.bpr_loss(t[:, 0], t[:, 1], t[:, 2], a.reg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    out = {"threads": torch.get_num_threads(), "batch": a.batch, "batches_per_epoch": batches_per_epoch}
    if a.bench:
        for _ in range(2):
            step(sample(train, n_users, n_items, a.batch, rng))
        t_step = t_samp = 0.0
        for _ in range(a.bench):
            t0 = time.perf_counter()
            trip = sample(train, n_users, n_items, a.batch, rng)
            t1 = time.perf_counter()
            step(trip)
            t2 = time.perf_counter()
            t_samp += t1 - t0
            t_step += t2 - t1
        out["seconds_per_batch"] = (t_step + t_samp) / a.bench
        out["seconds_per_batch_no_sampling"] = t_step / a.bench
        out["epoch_seconds_extrapolated"] = out["seconds_per_batch"] * batches_per_epoch
        out["epoch_seconds_no_sampling"] = out["seconds_per_batch_no_sampling"] * batches_per_epoch
    if a.svd:
        from scipy.sparse.linalg import svds
        t0 = time.perf_counter()
        _, s, _ = svds(R.astype(np.float64), k=a.svd)
        out["svds_seconds"] = time.perf_counter() - t0
        out["svds_sigma"] = sorted([float(x) for x in s], reverse=True)
    for ep in range(a.epochs):
        t0 = time.perf_counter()
        trips = sample(train, n_users, n_items, n_train, rng)
        for b in range(0, len(trips), a.batch):
            step(trips[b:b + a.batch])
        r, n = evaluate(model, R, test)
        print(json.dumps({"epoch": ep + 1, "seconds": time.perf_counter() - t0, "recall@20": r, "ndcg@20": n}), flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
