#!/usr/bin/env bash
# issue 11 item 10: one real `ptrun sweep` (LoRA on MiniLM, SST-2, 2,000 training sentences) against
# `ptrun sentiment` with its defaults on the same data. SST-2's dev set is split in two: the first
# 436 sentences are the sweep's validation split (its objective), the other 436 the test split,
# which no trial chose on. Usage: bash bench/sweep_sst2.sh [OUT_DIR] [TRIALS] [TRAIN_SENTENCES] [SPACE]
# SPACE "full" searches lr, LoRA rank, epochs (1 or 2) and the warmup ratio; "lr-rank" searches lr and rank at 1 epoch.
set -euo pipefail
OUT=${1:-bench/out/sweep-sst2}
TRIALS=${2:-8}
TRAIN_N=${3:-2000}
SPACE=${4:-full}
DATA=${SST2:-$(dirname "$0")/../../shared/datasets/sst2}
mkdir -p "$OUT/data"
head -$((TRAIN_N + 1)) "$DATA/train.tsv" > "$OUT/data/train.tsv"
head -437 "$DATA/dev.tsv" > "$OUT/data/validation.tsv"
{ head -1 "$DATA/dev.tsv"; tail -n +438 "$DATA/dev.tsv"; } > "$OUT/data/test.tsv"
printf 'lr: {low: 1e-4, high: 1e-2, log: true}\nlora-r: {choices: [4, 8, 16]}\n' > "$OUT/space.yaml"
FIXED=(--epochs 1)
if [ "$SPACE" = full ]; then printf 'epochs: {choices: [1, 2]}\nwarmup-ratio: {low: 0.0, high: 0.2}\n' >> "$OUT/space.yaml"; FIXED=(); fi
COMMON=(--train "$OUT/data/train.tsv" --validation "$OUT/data/validation.tsv" --test "$OUT/data/test.tsv"
        --model minilm --seed 42)
/usr/bin/time -f "defaults: %e s" ptrun sentiment "${COMMON[@]}" -o "$OUT/defaults" --overwrite > "$OUT/defaults.log"
/usr/bin/time -f "sweep: %e s" ptrun sweep sentiment --space "$OUT/space.yaml" --trials "$TRIALS" -o "$OUT/sweep" \
    --method lora "${FIXED[@]}" "${COMMON[@]}" | tee "$OUT/sweep.log"
# The best trial's own test score (its run folder) and the defaults' side by side.
BEST=$(python -c "import json,sys; t=json.load(open('$OUT/sweep/trials.json'))['trials']; c=[x for x in t if x['state']=='complete']; print(max(c,key=lambda x:x['value'])['run'])")
ptrun compare "$OUT/defaults" "$OUT/sweep/$BEST" | tee "$OUT/compare.txt"
