#!/usr/bin/env bash
# The retrieval training of the default pack's sparse head, end to end:
# `npm run train:head` (stages 1–2, the shipped head) or `npm run train:head -- --backbone`
# (also stage 3, LoRA on the backbone: measured, not shipped; docs/quality.md). Steps and
# outputs are in train/README.md; each step can be rerun alone.
set -euo pipefail
PY=/usr/bin/python3   # Debian's Python, where apt installs PyTorch
C=.cache/train
BACKBONE=0
for arg in "$@"; do
  case $arg in
    --backbone) BACKBONE=1 ;;
    *) echo "usage: train/head.sh [--backbone]" >&2; exit 2 ;;
  esac
done

# Stages 1–2: the head alone on the frozen backbone (default pair sources).
$PY train/py/mine_pairs.py --out $C/pairs.jsonl
node train/dist/pair-states.js --pairs $C/pairs.jsonl --out $C/pair-states
node train/dist/pair-terms.js --pairs $C/pairs.jsonl --states $C/pair-states
$PY train/py/hard_negatives.py --pairs $C/pairs.jsonl --states $C/pair-states --out $C/pair-states/hardneg.i32
$PY train/py/train_head.py --config train/config/head.json
$PY train/py/train_head.py --config train/config/head-stage2.json

if [ $BACKBONE = 0 ]; then
  node train/dist/labels.js --sae $C/head-stage2 --states $C/pair-states
  node train/dist/finalize.js --from $C/head-stage2 --head train/config/head.json,train/config/head-stage2.json
  exit 0
fi

# Stage 3: LoRA on the backbone's second layer jointly with the head, on the pairs plus the
# WordNet and Python-docs sources (the trainer runs the backbone itself and reads only the
# token ids, spans and hard negatives from the states folder).
$PY train/py/mine_pairs.py --with wn-gloss,rst-sec --out $C/pairs-prose.jsonl
node train/dist/pair-states.js --pairs $C/pairs-prose.jsonl --out $C/pair-states-prose
node train/dist/pair-terms.js --pairs $C/pairs-prose.jsonl --states $C/pair-states-prose
$PY train/py/hard_negatives.py --pairs $C/pairs-prose.jsonl --states $C/pair-states-prose --out $C/pair-states-prose/hardneg.i32
$PY train/py/train_backbone.py --config train/config/head-stage3.json
# Labels over the adapted backbone's states, then seal.
node train/dist/pair-states.js --sae $C/head-stage3 --pairs $C/pairs-prose.jsonl --out $C/pair-states-tuned
node train/dist/labels.js --sae $C/head-stage3 --states $C/pair-states-tuned
node train/dist/finalize.js --from $C/head-stage3 --head train/config/head.json,train/config/head-stage2.json,train/config/head-stage3.json
