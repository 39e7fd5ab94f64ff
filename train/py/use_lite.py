"""USE-Lite in PyTorch, for training the backbone with LoRA adapters (train_backbone.py).

The same computation as daemon/src/model/convert/use-lite.ts (the ONNX graph Loupe runs), read
from the same TF.js weights; `check_parity` compares it with the token states the ONNX graph
wrote to a pair-states folder. Each weight matrix W (in x out) may carry a LoRA adapter,
W + A B * (alpha / rank), with A (in x r) random and B (r x out) zero at the start, so an
untrained adapter changes nothing. Biases and LayerNorm parameters are trained in full.

Adapter file (`backbone-lora.json`, read by the converter): {"format": 1, "rank", "alpha",
"tensors": {tfjs weight name: {"shape": [...], "kind": "lora" | "replace", "a"/"b" or "value":
base64 little-endian float32}}}. "lora" tensors are merged as W + A B * alpha / rank;
"replace" tensors (biases, LayerNorm) replace the original.
"""
import base64
import json
import math
import os

import numpy as np
import torch

ENC = "module_apply_default/Encoder_en/KonaTransformer/Encode/"
VARS = "module/Encoder_en/KonaTransformer/Encode/"
HIDDEN = 512
FFN = 1536


def read_tfjs(folder):
    model = json.load(open(os.path.join(folder, "model.json")))
    out = {}
    for group in model["weightsManifest"]:
        buf = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        at = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            dt = "<f4" if w["dtype"] == "float32" else "<i4"
            out[w["name"]] = np.frombuffer(buf, dtype=dt, count=n, offset=at).reshape(w["shape"]).copy()
            at += 4 * n
    return out


def names(layers=(0, 1)):
    """Trainable tensors of `layers`: tfjs name -> (kind, shape used here). Matrices are (in, out)."""
    t = {}
    for layer, width in ((0, 256), (1, HIDDEN)):
        if layer not in layers:
            continue
        pre = f"Layer_{layer}/TransformerLayer/"
        t[f"{VARS}{pre}MultiheadAttention/qkv_transform_single/kernel/part_0"] = ("lora", (width, 3 * width))
        t[f"{ENC}{pre}MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat"] = ("replace", (3 * width,))
        t[f"{VARS}{pre}MultiheadAttention/output_transform_single/kernel/part_0"] = ("lora", (width, HIDDEN))
        t[f"{ENC}{pre}MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat"] = ("replace", (HIDDEN,))
        t[f"{ENC}{pre}layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat"] = ("replace", (width,))
        t[f"{ENC}{pre}layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat"] = ("replace", (width,))
        f = f"{pre}FFN/"
        t[f"{ENC}{f}layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat"] = ("replace", (HIDDEN,))
        t[f"{ENC}{f}layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat"] = ("replace", (HIDDEN,))
        t[f"{ENC}TransformerStack/{f}conv1/Tensordot/Reshape_1"] = ("lora", (HIDDEN, FFN))
        t[f"{ENC}{f}conv1/bias/ConcatPartitions/concat"] = ("replace", (FFN,))
        t[f"{ENC}TransformerStack/{f}conv2/Tensordot/Reshape_1"] = ("lora", (FFN, HIDDEN))
        t[f"{ENC}{f}conv2/bias/ConcatPartitions/concat"] = ("replace", (HIDDEN,))
    if 0 in layers:
        t[f"{ENC}Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat"] = ("lora", (256, HIDDEN))
        t[f"{ENC}Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat"] = ("replace", (HIDDEN,))
    return t


class UseLite(torch.nn.Module):
    def __init__(self, weights, rank=16, alpha=32, seed=0, layers=(0, 1)):
        super().__init__()
        self.rank, self.alpha, self.layers = rank, alpha, tuple(layers)
        self.spec = names(self.layers)
        self.frozen = {n: torch.from_numpy(weights[n].reshape(shape).astype(np.float32)) for n, (_, shape) in names().items() if n not in self.spec}
        g = torch.Generator().manual_seed(seed)
        self.base = {}  # the frozen W under each LoRA adapter
        self.params = torch.nn.ParameterDict()
        self.keys = {}
        for i, (name, (kind, shape)) in enumerate(self.spec.items()):
            w = torch.from_numpy(weights[name].reshape(shape).astype(np.float32))
            self.keys[name] = f"p{i}"
            if kind == "lora":
                self.base[name] = w
                a = torch.randn(shape[0], rank, generator=g) / math.sqrt(shape[0])
                self.params[f"p{i}_a"] = torch.nn.Parameter(a)
                self.params[f"p{i}_b"] = torch.nn.Parameter(torch.zeros(rank, shape[1]))
            else:
                self.params[f"p{i}"] = torch.nn.Parameter(w)
        self.embeddings = torch.from_numpy(weights["module/Embeddings_en"].astype(np.float32))
        self.inv_timescales = torch.from_numpy(weights[f"{ENC}TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1"].reshape(1, 128))
        self.neg_big = float(weights[f"{ENC}TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y"])
        self.eps = float(weights[f"{ENC}TransformerStack/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x"])
        self.att_scale = [float(weights[f"{ENC}TransformerStack/Layer_{l}/TransformerLayer/MultiheadAttention/mul/y"]) for l in (0, 1)]

    def p(self, name):
        if name in self.frozen:
            return self.frozen[name]
        kind, _ = self.spec[name]
        k = self.keys[name]
        if kind == "lora":
            return self.base[name] + (self.params[k + "_a"] @ self.params[k + "_b"]) * (self.alpha / self.rank)
        return self.params[k]

    def _ln(self, x, prefix):
        w = self.p(f"{ENC}{prefix}/layer_norm_scale/ConcatPartitions/concat")
        b = self.p(f"{ENC}{prefix}/layer_norm_bias/ConcatPartitions/concat")
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, self.eps)

    def _attention(self, x, layer, width, key_bias):
        pre = f"Layer_{layer}/TransformerLayer/"
        h = self._ln(x, f"{pre}layer_prepostprocess/layer_norm")
        qkv = h @ self.p(f"{VARS}{pre}MultiheadAttention/qkv_transform_single/kernel/part_0") + self.p(f"{ENC}{pre}MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat")
        q, k, v = qkv.split(width, dim=-1)
        B, T, _ = x.shape
        heads = lambda t: t.reshape(B, T, 4, width // 4).transpose(1, 2)
        logits = (heads(q) * self.att_scale[layer]) @ heads(k).transpose(2, 3) + key_bias
        ctx = (logits.softmax(-1) @ heads(v)).transpose(1, 2).reshape(B, T, width)
        return ctx @ self.p(f"{VARS}{pre}MultiheadAttention/output_transform_single/kernel/part_0") + self.p(f"{ENC}{pre}MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat")

    def _ffn(self, x, layer, mask3):
        f = f"Layer_{layer}/TransformerLayer/FFN/"
        h = self._ln(x, f"{f}layer_prepostprocess/layer_norm")
        h = torch.relu(h @ self.p(f"{ENC}TransformerStack/{f}conv1/Tensordot/Reshape_1") + self.p(f"{ENC}{f}conv1/bias/ConcatPartitions/concat"))
        y = h @ self.p(f"{ENC}TransformerStack/{f}conv2/Tensordot/Reshape_1") + self.p(f"{ENC}{f}conv2/bias/ConcatPartitions/concat")
        return (y + x) * mask3

    def forward(self, ids, mask):
        """ids, mask: [B, T] int64. Returns layer-1 token states [B, T, 512] (zero at padding)."""
        mask = mask.float()
        mask3 = mask.unsqueeze(-1)
        key_bias = ((1 - mask) * self.neg_big)[:, None, None, :]
        pos = torch.arange(ids.shape[1], dtype=torch.float32).unsqueeze(-1) * self.inv_timescales
        timing = torch.cat([pos.sin(), pos.cos()], dim=1)
        x = (self.embeddings[ids] * 2 + timing) * mask3
        with torch.set_grad_enabled(torch.is_grad_enabled() and 0 in self.layers):
            res = x @ self.p(f"{ENC}Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat") + self.p(f"{ENC}Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat")
            l0 = self._ffn(self._attention(x, 0, 256, key_bias) + res, 0, mask3)
        l1 = self._ffn(self._attention(l0, 1, HIDDEN, key_bias) + l0, 1, mask3)
        return l1

    def adapter(self):
        b64 = lambda t: base64.b64encode(np.ascontiguousarray(t.detach().numpy(), dtype="<f4").tobytes()).decode()
        tensors = {}
        for name, (kind, shape) in self.spec.items():
            k = self.keys[name]
            if kind == "lora":
                # alpha / rank folded into B, so the converter merges W + A B.
                tensors[name] = {"shape": list(shape), "kind": "lora", "a": b64(self.params[k + "_a"]), "b": b64(self.params[k + "_b"] * (self.alpha / self.rank))}
            else:
                tensors[name] = {"shape": list(shape), "kind": "replace", "value": b64(self.params[k])}
        return {"format": 1, "rank": self.rank, "tensors": tensors}


def batch_ids(token_ids, spans, texts):
    """Pads the token ids of `texts` (rows of spans: first token, length) into [B, T]."""
    lens = [int(spans[t][1]) for t in texts]
    T = max(lens)
    ids = torch.zeros(len(texts), T, dtype=torch.int64)
    mask = torch.zeros(len(texts), T, dtype=torch.int64)
    for r, t in enumerate(texts):
        s, n = int(spans[t][0]), int(spans[t][1])
        ids[r, :n] = torch.from_numpy(token_ids[s:s + n].astype(np.int64))
        mask[r, :n] = 1
    return ids, mask


def check_parity(model, states_dir, texts=range(8)):
    meta = json.load(open(os.path.join(states_dir, "meta.json")))
    token_ids = np.fromfile(os.path.join(states_dir, "token-ids.i32"), dtype="<i4")
    spans = np.fromfile(os.path.join(states_dir, "texts.i32"), dtype="<i4").reshape(-1, 2)
    shard = np.fromfile(os.path.join(states_dir, f"layer{meta['layers'][0]}-0000.f32"), dtype="<f4").reshape(-1, HIDDEN)
    texts = list(texts)
    ids, mask = batch_ids(token_ids, spans, texts)
    with torch.no_grad():
        out = model(ids, mask)
    worst = 0.0
    for r, t in enumerate(texts):
        s, n = int(spans[t][0]), int(spans[t][1])
        ref = torch.from_numpy(shard[s:s + n])
        worst = max(worst, ((out[r, :n] - ref).abs().max() / ref.abs().max()).item())
    return worst


def load_adapter(weights, path):
    """A UseLite with the adapter in `path` (backbone-lora.json) applied."""
    adapter = json.load(open(path))
    unb64 = lambda x: torch.from_numpy(np.frombuffer(base64.b64decode(x), dtype="<f4").copy())
    layers = tuple(l for l in (0, 1) if any(f"Layer_{l}/" in n for n in adapter["tensors"]))
    # alpha = rank: B already carries the scale.
    m = UseLite(weights, rank=adapter["rank"], alpha=adapter["rank"], layers=layers)
    with torch.no_grad():
        for name, t in adapter["tensors"].items():
            k = m.keys[name]
            if t["kind"] == "lora":
                m.params[k + "_a"].copy_(unb64(t["a"]).reshape(m.params[k + "_a"].shape))
                m.params[k + "_b"].copy_(unb64(t["b"]).reshape(m.params[k + "_b"].shape))
            else:
                m.params[k].copy_(unb64(t["value"]).reshape(m.params[k].shape))
    return m


if __name__ == "__main__":
    # use_lite.py SOURCE_DIR STATES_DIR [ADAPTER]: compares this model (with the adapter, if
    # given) against token states written by the ONNX graph (pair-states.js [--sae DIR]).
    import sys
    w = read_tfjs(sys.argv[1])
    m = load_adapter(w, sys.argv[3]) if len(sys.argv) > 3 else UseLite(w)
    print("max relative difference vs ONNX states:", check_parity(m, sys.argv[2]))
