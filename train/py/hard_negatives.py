#!/usr/bin/python3
"""Mines one lexical hard negative per training pair: a document that BM25 ranks high for the
pair's query but that belongs to another pair. Training the head against these teaches the
latent channel what the lexical channel gets wrong, which is what a hybrid needs from it.

The terms are the daemon's own analyzer's (lexical.py reads what train/src/pair-terms.ts wrote
beside the pair states), and so are the BM25 parameters. Terms in more than 5% of documents are
skipped for speed (they barely move BM25 scores).
A negative is drawn at random from ranks 2-30 (rank 1 is too often a near-duplicate of the
positive) among documents whose own query differs from this one.

Writes hardneg.i32: per pair, the pair number whose document is the negative, or -1.

  /usr/bin/python3 train/py/hard_negatives.py [--pairs .cache/train/pairs.jsonl] [--states .cache/train/pair-states] [--out .cache/train/pair-states/hardneg.i32]
"""
import argparse
import json
import math
import random
import sys
from collections import Counter, defaultdict

import numpy as np

from lexical import load_terms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", default=".cache/train/pairs.jsonl")
    ap.add_argument("--states", default=".cache/train/pair-states")
    ap.add_argument("--out", default=".cache/train/pair-states/hardneg.i32")
    ap.add_argument("--seed", type=int, default=20261124)
    args = ap.parse_args()
    pairs = [json.loads(l) for l in open(args.pairs, encoding="utf-8")]
    n = len(pairs)
    terms, bm25 = load_terms(args.states)
    if len(terms) != n:
        sys.exit(f"{args.states} holds terms of {len(terms)} pairs, {args.pairs} has {n}")
    docs = [Counter(t["d"]) for t in terms]
    lengths = np.array([sum(d.values()) for d in docs], dtype=np.float64)
    avg = lengths.mean()
    postings = defaultdict(list)
    for i, d in enumerate(docs):
        for t, tf in d.items():
            postings[t].append((i, tf))
    k1, b = bm25["k1"], bm25["b"]
    norm = k1 * (1 - b + b * lengths / avg)
    rng = random.Random(args.seed)
    out = np.full(n, -1, dtype=np.int32)
    found = 0
    for qi, p in enumerate(pairs):
        scores = defaultdict(float)
        for t in set(terms[qi]["q"]):
            plist = postings.get(t)
            if not plist or len(plist) > 0.05 * n:
                continue
            idf = math.log(1 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
            for di, tf in plist:
                scores[di] += idf * tf * (k1 + 1) / (tf + norm[di])
        ranked = [di for di, _ in sorted(scores.items(), key=lambda x: -x[1])[:30]
                  if di != qi and pairs[di]["q"].lower() != p["q"].lower()]
        candidates = ranked[1:] if len(ranked) > 1 else ranked
        if candidates:
            out[qi] = rng.choice(candidates)
            found += 1
        if qi % 5000 == 0:
            print(f"\rhard negatives: {qi}/{n}", end="", file=sys.stderr)
    out.astype("<i4").tofile(args.out)
    print(f"\rhard negatives: {found}/{n} pairs have one → {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
