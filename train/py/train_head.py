#!/usr/bin/python3
"""Trains the sparse head for retrieval: the SAE encoder of the default pack,
initialised from the reconstruction SAE, fine-tuned on mined (query, document) pairs.

The backbone (USE-Lite) is frozen, so its token states are computed once by
train/src/pair-states.ts. The head is exactly what the fused ONNX graph runs at search time:

    z_i = W (s * h_i - b_pre) + b        (per token i; W: width x dim, one row per latent)
    u_j = log(1 + ReLU(max_i z_ij))      (max-pool over the text's tokens)
    score(q, d) = u_q . u_d              (Top-K 40 / 400 applied at inference)

Loss (SPLADE-style): InfoNCE over in-batch negatives on score x a learned scale, on the Top-K
vectors (as SPLARE trains), plus FLOPS
regularisation (sum over latents of the squared mean activation in the batch), separately for
queries and documents, which keeps the vectors sparse and the latents balanced.

With `hybridLoss` in the config, the softmax runs over the batch's fused score instead (BM25
and latent, each divided by its best score for the query, weighted alpha and 1 - alpha, as
search/fusion.ts fuses them), so the head learns what BM25 misses (CLEAR, Gao et al. 2021).

The max-pool is differentiated by hand: only the arg-max token of each (text, latent) gets a
gradient, so the backward pass is one matrix product of the same size as the forward one and
no [tokens x width] activation graph is kept. PyTorch (Debian's python3-torch, with OpenBLAS
from libopenblas0-pthread) does the dense products; the shipped pack never needs it.

  /usr/bin/python3 train/py/train_head.py --config train/config/head.json
"""
import argparse
import base64
import hashlib
import json
import math
import os
import random
import sys
import time
from collections import Counter

import numpy as np
import torch


def load_config(default="train/config/head.json", limit=("--max-pairs", "maxPairs")):
    """The config file with --out/--epochs overrides and one size limit (`limit`: flag, key)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=default)
    ap.add_argument("--out", default=None, help="folder for the trained weights (default: config)")
    ap.add_argument("--epochs", type=float, default=None)
    ap.add_argument(limit[0], dest="limit", type=int, default=None)
    args = ap.parse_args()
    cfg = json.load(open(args.config))
    if args.out:
        cfg["out"] = args.out
    if args.epochs is not None:
        cfg["epochs"] = args.epochs
    if args.limit is not None:
        cfg[limit[1]] = args.limit
    return cfg


def read_sae(folder):
    meta = json.load(open(os.path.join(folder, "sae.json")))
    w = np.fromfile(os.path.join(folder, "sae-encoder.f16"), dtype="<f2").reshape(meta["width"], meta["dim"])
    unb64 = lambda s: np.frombuffer(base64.b64decode(s), dtype="<f4").copy()
    return meta, w.astype(np.float32), unb64(meta["bEnc"]), unb64(meta["bPre"])


def write_sae(folder, meta, w, b_enc, training):
    os.makedirs(folder, exist_ok=True)
    w.astype("<f2").tofile(os.path.join(folder, "sae-encoder.f16"))
    b64 = lambda a: base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()
    out = dict(meta)
    out["bEnc"] = b64(b_enc)
    out["training"] = training
    with open(os.path.join(folder, "sae.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def load_states(folder, scale, b_pre):
    """All token states as (s * h - b_pre) in float16, plus (first token, length) per text."""
    meta = json.load(open(os.path.join(folder, "meta.json")))
    dim, layer = meta["hidden"], meta["layers"][0]
    x = np.empty((meta["tokens"], dim), dtype=np.float16)
    at = 0
    for s in range(meta["shards"]):
        shard = np.fromfile(os.path.join(folder, f"layer{layer}-{s:04d}.f32"), dtype="<f4").reshape(-1, dim)
        x[at:at + len(shard)] = (shard * scale - b_pre).astype(np.float16)
        at += len(shard)
    assert at == meta["tokens"], (at, meta["tokens"])
    spans = np.fromfile(os.path.join(folder, "texts.i32"), dtype="<i4").reshape(-1, 2)
    return torch.from_numpy(x), torch.from_numpy(spans.astype(np.int64)), meta


class Head:
    """z = x W^T + b, max-pooled per text; gradients of the pooled maxima flow to W and b."""

    def __init__(self, w, b):
        self.w = torch.from_numpy(w).requires_grad_(False)
        self.b = torch.from_numpy(b).requires_grad_(False)

    def pooled(self, x, spans):
        """x: [tokens, dim] float32 of the batch's texts laid end to end; spans: (start, length)
        within x. Returns zmax [texts, width] and the arg-max token (row of x) per entry."""
        z = torch.addmm(self.b, x, self.w.t())
        zmax = torch.empty(len(spans), z.shape[1])
        arg = torch.empty(len(spans), z.shape[1], dtype=torch.int64)
        for t, (s, n) in enumerate(spans):
            v, i = z[s:s + n].max(0)
            zmax[t] = v
            arg[t] = i + s
        return zmax, arg

    def grads(self, x, arg, g, entries=None):
        """dL/dW and dL/db from dL/dzmax (g: [texts, width]). Only entries Top-K kept (and ReLU
        let through) have a gradient, each at its arg-max token, so dL/dW is an index_add over
        those rows of x: about 110k rows a step against a dense [tokens x width] product,
        40% of a step's time on 2 cores. A dense g (no Top-K in training) takes the product instead.
        `entries`: `self.entries(arg, g)` when the caller has it already."""
        j, rows, vals = entries if entries is not None else self.entries(arg, g)
        if len(j) > 0.25 * g.numel():
            c = torch.zeros(x.shape[0], g.shape[1])
            c.scatter_add_(0, arg, g)
            return c.t().mm(x), g.sum(0)
        return torch.zeros_like(self.w).index_add_(0, j, vals * x[rows]), g.sum(0)

    @staticmethod
    def entries(arg, g):
        """Every (text, latent) entry with a gradient: its latent, its arg-max row of x, and
        the gradient as a column."""
        t, j = g.nonzero(as_tuple=True)
        return j, arg[t, j], g[t, j].unsqueeze(1)


def gather(x_all, spans_all, texts):
    """The token states of `texts` laid end to end, and each text's (start, length) there."""
    parts, spans, at = [], [], 0
    for t in texts:
        s, n = spans_all[t].tolist()
        parts.append(x_all[s:s + n])
        spans.append((at, n))
        at += n
    return torch.cat(parts).float(), spans


def topk_mask(u, k):
    if k >= u.shape[1]:
        return u
    v, i = u.topk(k, dim=1)
    return torch.zeros_like(u).scatter_(1, i, v)


@torch.no_grad()
def encode(head, x_all, spans_all, texts, k, batch=256):
    out = []
    for i in range(0, len(texts), batch):
        x, spans = gather(x_all, spans_all, texts[i:i + batch])
        zmax, _ = head.pooled(x, spans)
        out.append(topk_mask(torch.log1p(torch.relu(zmax)), k))
    return torch.cat(out)


@torch.no_grad()
def validate(head, x_all, spans_all, pairs, k_q, k_d, lexical=None, alpha=None):
    """Held-out pairs: each query against every held-out document (MRR@10, R@1), and sparsity;
    with `lexical`, also MRR@10 ranked by the fused score (`fused`, lexical weight alpha)."""
    uq = encode(head, x_all, spans_all, [2 * p for p in pairs], k_q)
    ud = encode(head, x_all, spans_all, [2 * p + 1 for p in pairs], k_d)
    metrics = pair_metrics(uq, ud)
    if lexical is not None:
        metrics["hybrid_mrr@10"] = round(mrr_at_10(fused(lexical.scores(pairs, pairs), uq @ ud.t(), alpha))[0], 4)
    return metrics


def mrr_at_10(s):
    """Scores s[i, j] of query i against document j, query i's own document being j = i:
    MRR@10, and each query's rank of its document (0 = first)."""
    rank = (s > s.diag().unsqueeze(1)).sum(1)
    return torch.where(rank < 10, 1.0 / (rank + 1).float(), torch.zeros(len(s))).mean().item(), rank


def pair_metrics(uq, ud):
    """Query i's document is ud[i]: MRR@10 and R@1 against all of ud, and sparsity."""
    mrr, rank = mrr_at_10(uq @ ud.t())
    used = int(((ud > 0).sum(0) > 0).sum().item())
    return {"mrr@10": round(mrr, 4), "r@1": round((rank == 0).float().mean().item(), 4),
            "q_active": round((uq > 0).sum(1).float().mean().item(), 1),
            "d_active": round((ud > 0).sum(1).float().mean().item(), 1), "latents_used": used}


class Lexical:
    """BM25 between the pairs' queries and documents (the daemon's analyzer terms and BM25
    parameters, as lexical.py loads them; statistics over the pairs' documents), for the hybrid
    loss: the lexical channel's scores that the latent channel is fused with at search time."""

    def __init__(self, states):
        """`states`: the pair states folder, whose terms are in the pairs' order."""
        from lexical import load_terms
        terms, bm25 = load_terms(states)
        k1, b = bm25["k1"], bm25["b"]
        docs = [Counter(t["d"]) for t in terms]
        df = Counter(t for d in docs for t in d)
        n, lengths = len(docs), [sum(d.values()) for d in docs]
        avg = sum(lengths) / n
        idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.doc = [{t: idf[t] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * ln / avg)) for t, tf in d.items()}
                    for d, ln in zip(docs, lengths)]
        self.query = [sorted(set(t["q"])) for t in terms]

    def scores(self, queries, docs):
        """[len(queries), len(docs)] BM25 scores; both are pair numbers."""
        vocab = {}
        for q in queries:
            for t in self.query[q]:
                vocab.setdefault(t, len(vocab))
        qm = torch.zeros(len(queries), max(1, len(vocab)))
        dm = torch.zeros(len(docs), max(1, len(vocab)))
        for i, q in enumerate(queries):
            for t in self.query[q]:
                qm[i, vocab[t]] = 1.0
        for i, d in enumerate(docs):
            for t, w in self.doc[d].items():
                j = vocab.get(t)
                if j is not None:
                    dm[i, j] = w
        return qm @ dm.t()


def fused(lex, lat, alpha):
    """Loupe's weighted-sum fusion (search/fusion.ts) over a batch: each channel divided by
    its best score for the query, lexical weighted alpha. The latent maximum is held constant
    in the gradient, so the positive's own latent score keeps a gradient when it is the best."""
    lexn = lex / lex.max(1, keepdim=True).values.clamp_min(1e-9)
    latn = lat / lat.max(1, keepdim=True).values.detach().clamp_min(1e-9)
    return alpha * lexn + (1 - alpha) * latn


def main():
    cfg = load_config()
    torch.manual_seed(cfg["seed"])
    random.seed(cfg["seed"])
    torch.set_num_threads(cfg.get("threads", os.cpu_count()))
    meta, w, b_enc, b_pre = read_sae(cfg["init"])
    x_all, spans_all, smeta = load_states(cfg["states"], meta["scale"], b_pre)
    n_pairs = len(spans_all) // 2
    order = list(range(n_pairs))
    random.Random(cfg["seed"]).shuffle(order)
    held = order[:cfg["heldOutPairs"]]
    train = order[cfg["heldOutPairs"]:]
    if cfg.get("maxPairs"):
        train = train[:cfg["maxPairs"]]
    hard = None
    if cfg.get("hardNegatives"):
        hard = np.fromfile(os.path.join(cfg["states"], "hardneg.i32"), dtype="<i4")
        held_set = set(held)
        # A held-out pair's document never serves as a training negative.
        hard = np.array([-1 if h in held_set else h for h in hard], dtype=np.int64)
    print(f"states: {smeta['tokens']} tokens, {n_pairs} pairs ({len(train)} train, {len(held)} held out)", file=sys.stderr)
    # Hybrid loss (optional): the softmax runs over the fused lexical + latent score, as search
    # ranks, so the head is trained for what BM25 misses rather than to repeat it (the
    # complementary training of CLEAR, Gao et al. 2021, with Loupe's fusion in place of a margin).
    hybrid = cfg.get("hybridLoss")
    repeat = cfg.get("sourceRepeat")
    lexical, alpha, rows = None, None, None
    n_train = len(train)
    if hybrid or repeat:
        # Both read the pairs' texts: read and parse the file once, and only if it is the one
        # the states were computed from.
        with open(cfg["pairs"], "rb") as f:
            data = f.read()
        sha = hashlib.sha256(data).hexdigest()
        if sha != smeta["corpusSha256"]:
            sys.exit(f"{cfg['pairs']} (sha256 {sha}) is not the pairs the states were computed from ({smeta['corpusSha256']})")
        rows = [json.loads(line) for line in data.split(b"\n") if line.strip()]
        assert len(rows) == n_pairs, (len(rows), n_pairs)
    if repeat:
        # Source balance (optional): a pair whose source is listed is seen that many times an
        # epoch, so widening the data with one kind of text need not dilute another.
        source = [r["source"] for r in rows]
        unknown = set(repeat) - set(source)
        if unknown:
            sys.exit(f"sourceRepeat names sources the pairs do not have: {sorted(unknown)}")
        bad = {k: n for k, n in repeat.items() if not isinstance(n, int) or isinstance(n, bool) or n < 1}
        if bad:
            sys.exit(f"sourceRepeat counts must be whole numbers ≥ 1: {bad}")
        # Held-out pairs were drawn above, so none is repeated. Two copies of a pair can land in
        # one batch (one serves as the other's in-batch negative); with code seen twice in the
        # broad set that happens about once in 24 batches.
        train = [p for p in train for _ in range(repeat.get(source[p], 1))]
        print(f"source repeat {repeat}: {len(train)} training pairs an epoch", file=sys.stderr)
    if hybrid:
        lexical = Lexical(cfg["states"])
        alpha = hybrid["alpha"]
        print(f"hybrid loss: alpha {alpha}", file=sys.stderr)

    head = Head(w, b_enc)
    w0 = head.w.clone()
    log_scale = torch.tensor(math.log(1 / cfg["temperature"]))
    # The gradients come from Head.grads, not autograd, so they are set on .grad by hand.
    opt = torch.optim.Adam([head.w, head.b], lr=cfg["lr"], betas=(0.9, 0.999), eps=1e-8)
    B, kq, kd = cfg["batch"], cfg["topK"]["query"], cfg["topK"]["document"]
    steps = int(cfg["epochs"] * len(train) / B)
    warm = cfg["warmupSteps"]
    log = open(cfg["log"], "w")
    v0 = validate(head, x_all, spans_all, held, kq, kd, lexical, alpha)
    print(f"step 0 held-out {v0}", file=sys.stderr)
    log.write(json.dumps({"step": 0, **{f"held_{k}": x for k, x in v0.items()}}) + "\n")
    started = time.time()
    rng = random.Random(cfg["seed"] + 1)
    batches = []
    step = 0
    while step < steps:
        if not batches:
            rng.shuffle(train)
            batches = [train[i:i + B] for i in range(0, len(train) - B + 1, B)]
        pairs = batches.pop()
        # Extra documents: each pair's lexical hard negative (another pair's document), scored
        # against every query of the batch like the in-batch documents.
        negs = [int(hard[p]) for p in pairs if hard is not None and hard[p] >= 0]
        x, spans = gather(x_all, spans_all, [t for p in pairs for t in (2 * p, 2 * p + 1)] + [2 * q + 1 for q in negs])
        zmax, arg = head.pooled(x, spans)
        zmax.requires_grad_(True)
        u = torch.log1p(torch.relu(zmax))
        m2 = 2 * len(pairs)
        uq = u[0:m2:2]
        ud = torch.cat([u[1:m2:2], u[m2:]])
        if cfg["trainTopK"]:
            # SPLARE's Top-K pooling in training too: the vectors scored are the ones indexed.
            uq, ud = topk_mask(uq, kq), topk_mask(ud, kd)
        log_scale.requires_grad_(True)
        target = torch.arange(len(pairs))
        if lexical is None:
            rank_loss = torch.nn.functional.cross_entropy((uq @ ud.t()) * log_scale.exp(), target)
        else:
            lat = uq @ ud.t()
            lex = lexical.scores(pairs, list(pairs) + negs)
            rank_loss = torch.nn.functional.cross_entropy(fused(lex, lat, alpha) * log_scale.exp(), target)
        # FLOPS (Paria et al. 2020), ramped up quadratically as in SPLADE.
        ramp = min(1.0, (step / max(1, cfg["flopsRampSteps"])) ** 2)
        flops_q = (uq.mean(0) ** 2).sum()
        flops_d = (ud.mean(0) ** 2).sum()
        loss = rank_loss + ramp * (cfg["lambdaQ"] * flops_q + cfg["lambdaD"] * flops_d)
        loss.backward()
        gw, gb = head.grads(x, arg, zmax.grad)
        with torch.no_grad():
            # The score scale only shapes the softmax (rankings do not depend on it); plain SGD.
            log_scale -= cfg["scaleLr"] * log_scale.grad
            log_scale.grad = None
        if cfg.get("anchor", 0) > 0:
            # Keep latents near their reconstruction meaning (labels stay interpretable).
            gw += cfg["anchor"] * (head.w - w0)
        lr = cfg["lr"] * min(1.0, (step + 1) / warm) * max(0.0, 1 - step / steps) ** 0.5
        step += 1
        head.w.grad, head.b.grad = gw, gb
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        if step % cfg["logEvery"] == 0 or step == steps:
            rec = {"step": step, "loss": round(loss.item(), 4), "rank_loss": round(rank_loss.item(), 4),
                   "flops_q": round(flops_q.item(), 3), "flops_d": round(flops_d.item(), 3), "lr": lr, "scale": round(log_scale.exp().item(), 4),
                   "q_active": round((uq > 0).sum(1).float().mean().item(), 1),
                   "d_active": round((ud > 0).sum(1).float().mean().item(), 1),
                   "seconds": round(time.time() - started, 1)}
            if step % cfg["validateEvery"] == 0 or step == steps:
                rec.update({f"held_{k}": x for k, x in validate(head, x_all, spans_all, held, kq, kd, lexical, alpha).items()})
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(json.dumps(rec), file=sys.stderr)
    final = validate(head, x_all, spans_all, held, kq, kd, lexical, alpha)
    minutes = round((time.time() - started) / 60, 1)
    negatives = "in-batch" + (" and BM25 hard" if hard is not None else "") + " negatives"
    on = " on the fused BM25 + latent score" if lexical is not None else ""
    training = {"objective": f"InfoNCE{on} ({negatives}) + FLOPS",
                "init": cfg["init"], "previous": meta.get("training", {}),
                "pairs": n_train, **({"pairsPerEpoch": len(train)} if len(train) != n_train else {}), "heldOutPairs": len(held), "steps": steps, "batch": B,
                "epochs": cfg["epochs"], "tokens": smeta["tokens"], "config": {k: cfg[k] for k in sorted(cfg) if k not in ("init", "states", "out", "log")},
                "heldOut": {"before": v0, "after": final}, "minutes": minutes,
                "machine": cfg.get("machine", f"{os.cpu_count()} CPU cores"), "pairsSha256": smeta["corpusSha256"]}
    write_sae(cfg["out"], {k: meta[k] for k in ("format", "layer", "width", "dim", "scale", "bPre")},
              head.w.numpy(), head.b.numpy(), training)
    print(f"held-out before {v0}\nheld-out after  {final}\n{minutes} min → {cfg['out']}", file=sys.stderr)


if __name__ == "__main__":
    main()
