"""The lexical channel as the trainers see it: the terms the daemon's own analyzer gave each
pair (train/src/pair-terms.ts writes them beside the pair states, with the analyzer version and
the BM25 parameters in the states' meta.json). Nothing here analyses text: a Python copy of the
analyzer would train the head against a lexical channel Loupe does not ship.
"""
import json
import os
import sys

# The analyzer version the terms must come from (daemon/src/analysis/analyzer.ts
# ANALYZER_VERSION); bump both together, and rerun pair-terms.js.
ANALYZER_VERSION = 1


def load_terms(states):
    """(terms, bm25): per pair {"q": [...], "d": [...]} in the pairs' order, and {"k1", "b"}."""
    meta = json.load(open(os.path.join(states, "meta.json"), encoding="utf-8"))
    a = meta.get("analyzer")
    if a is None:
        sys.exit(f"{states} has no lexical terms; run: node train/dist/pair-terms.js --states {states} --pairs <the pairs file>")
    if a["version"] != ANALYZER_VERSION:
        sys.exit(f"{states}/{a['terms']} comes from analyzer version {a['version']}, these trainers expect {ANALYZER_VERSION}; rerun pair-terms.js")
    terms = [json.loads(line) for line in open(os.path.join(states, a["terms"]), encoding="utf-8")]
    if len(terms) * 2 != meta["texts"]:
        sys.exit(f"{states}: {len(terms)} pairs of terms for {meta['texts']} texts of states; rerun pair-terms.js")
    return terms, a["bm25"]
