#!/usr/bin/env bash
# repro_lightgcn.sh — drive the long LightGCN reproduction runs of docs/graph-reproduction.md, one sitting at
# a time. Every call picks up where the last one stopped (`train --resume` is bit-identical to an
# uninterrupted run), so the same command can be repeated until the schedule is done:
#
#   tools/repro_lightgcn.sh gowalla  [MINUTES]     ../shared/data/lightgcn-gowalla  -> runs/gw/sched.model
#   tools/repro_lightgcn.sh yelp2018 [MINUTES]     ../shared/data/lightgcn-yelp2018 -> runs/yelp/sched.model
#
# MINUTES (default 60) bounds this sitting (the epoch in progress is finished first). The schedule, by epoch:
#   1 .. P1          batch 16384, lr 0.02       (cheap epochs, fast early progress; P1 = 35 Gowalla, 15 Yelp)
#   Gowalla:
#   P1+1 .. DECAY    batch 2048,  lr 0.001      (the paper's batch and rate; most of the run)
#   DECAY+1 .. END   batch 2048,  lr 0.0005, 0.00025, 0.0001 in equal thirds (annealing: less noise at the end)
#   Yelp2018 (the fastest way found there, docs/graph-reproduction.md sessions 18-19: 0.0620 at epoch 260; the
#   earlier runs, lr 0.001 with a weight average from epoch 328, stood at 0.0621 at epoch 452):
#   P1+1 .. LR2-1    batch 2048,  lr 0.001
#   LR2 .. END       batch 2048,  lr 0.002, with weight averaging from epoch AVG (the saved and evaluated model is
#                    the mean of the parameters after each epoch from AVG on; `train --average-from`)
# with DECAY, LR2, AVG and END from the environment (defaults 600, 77, 131 and 700; session 16's way: LR2=AVG=453)
# and the test split evaluated every 5 epochs (runs/<name>/sched.model.metrics.jsonl; the best Recall@20 is what
# docs/graph-reproduction.md reports, and runs/<name>/sched.model.best is the checkpoint of that evaluation:
# `train --keep-best`).
# Environment: BUILD (default build), THREADS (default: all cores), DECAY, LR2, AVG, END; DATA_DIR and RUN_DIR
# replace the split directory and the run folder.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: tools/repro_lightgcn.sh gowalla|yelp2018 [MINUTES]}
minutes=${2:-60}
case "$name" in
    gowalla) data=../shared/data/lightgcn-gowalla run=runs/gw p1=35 ;;
    yelp2018) data=../shared/data/lightgcn-yelp2018 run=runs/yelp p1=15 ;;
    *) echo "repro_lightgcn: unknown data set '$name' (gowalla or yelp2018)" >&2; exit 2 ;;
esac
data=${DATA_DIR:-$data} run=${RUN_DIR:-$run}  # overrides (tests, other splits)
[ -f "$data/train.txt" ] || { echo "repro_lightgcn: $data/train.txt not found (../shared missing?)" >&2; exit 1; }
bin=${BUILD:-build}/tastegraph
decay=${DECAY:-600} lr2=${LR2:-77} avg=${AVG:-131} end=${END:-700}
model=$run/sched.model
mkdir -p "$run"
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
deadline=$(( $(date +%s) + minutes * 60 ))

# epochs finished so far: the last line of the metrics log (none before the first sitting)
done_epochs() {
    [ -f "$model.metrics.jsonl" ] || { echo 0; return; }
    tail -n 1 "$model.metrics.jsonl" | sed -n 's/.*"epoch":\([0-9]*\).*/\1/p'
}
left_minutes() { awk -v s=$(( deadline - $(date +%s) )) 'BEGIN { printf "%.2f", s / 60 }'; }

# stages: "batch lr last-epoch [average-from]"
third=$(( (end - decay) / 3 ))
if [ "$name" = yelp2018 ]; then
    stages=("16384 0.02 $p1" "2048 0.001 $((lr2 - 1))" "2048 0.002 $end $avg")
else
    stages=("16384 0.02 $p1" "2048 0.001 $decay" "2048 0.0005 $((decay + third))" "2048 0.00025 $((decay + 2 * third))"
            "2048 0.0001 $end")
fi
for s in "${stages[@]}"; do
    read -r batch lr upto from <<<"$s"
    e=$(done_epochs)
    [ "$e" -ge "$upto" ] && continue
    m=$(left_minutes)
    awk -v m="$m" 'BEGIN { exit !(m > 0.05) }' || { echo "repro_lightgcn: time is up at epoch $e; run the same command again to continue"; exit 0; }
    resume=() average=()
    [ -f "$model" ] && resume=(--resume)
    [ -n "$from" ] && average=(--average-from "$from")
    echo "repro_lightgcn: $name epochs $((e + 1))..$upto at batch $batch, lr $lr${from:+, averaging from epoch $from} (at most $m min)"
    "$bin" train --data "$data" --model lightgcn "${resume[@]}" --batch "$batch" --lr "$lr" "${average[@]}" \
        --epochs "$upto" --eval-every 5 --keep-best --max-minutes "$m" "${threads[@]}" -o "$model"
    e=$(done_epochs)
    [ "$e" -ge "$upto" ] || { echo "repro_lightgcn: stopped at epoch $e; run the same command again to continue"; exit 0; }
done
e=$(done_epochs)
[ "$e" -ge "$end" ] && echo "repro_lightgcn: schedule finished ($e epochs); best: $(grep -o '"recall@20":[0-9.]*' \
    "$model.metrics.jsonl" | sort -t: -k2 -g | tail -n 1) (that evaluation's checkpoint: $model.best)"
exit 0
