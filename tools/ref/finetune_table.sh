#!/bin/bash
# finetune_table.sh — the issue-4 results table (docs/finetune.md): every run of (a)-(e) on the committed split,
# two at a time with 1 thread each, then tools/ref/finetune_table.py prints mean ± sd over the seeds.
#
#   tools/ref/finetune_table.sh [RUNS...]        default: b e (seeds 42 1 2), ds dc (42 1 2), c a (42)
#   RUN = KIND_sSEED, KIND one of:
#     a   frozen encoder + linear heads (lr 5e-3)      b   full fine-tuning, fixed weights 1:1 (lr 3e-4)
#     c   full fine-tuning, uncertainty weighting      dc / ds   single task: category / sentiment alone
#     w   full fine-tuning, fixed weights category 2 : sentiment 1
#     m   (b) plus a masked-LM auxiliary head on the same reviews (weights 1 : 1 : MLM_W, default 0.2)
#     p   (b) with --grad-surgery pcgrad (the tasks' conflicting gradients projected at the pooled vector)
#     e   (b) in PyTorch + transformers (tools/ref/finetune_reference.py, scores the test split itself)
#
# Needs /tmp/shop/{train,valid,test}.csv (python3 tools/ref/make_split.py --materialize /tmp/shop) and the
# encoder in weights/zh-small (tastegraph pretrain, see docs/finetune.md). Environment: EPOCHS (default 2),
# OUT (default runs/ft), MLM_W (default 0.2), LR (default 3e-4: every kind but a), BIN, SHOP, MODEL. Results: $OUT/RUN/ (ours:
# test_scores.json from `tastegraph predict` + tools/ref/score_predictions.py; PyTorch: report.json).
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/tastegraph}
SHOP=${SHOP:-/tmp/shop}
MODEL=${MODEL:-weights/zh-small}
OUT=${OUT:-runs/ft}
EPOCHS=${EPOCHS:-2}
MLM_W=${MLM_W:-0.2}
LR=${LR:-3e-4}

one() {
    local name=$1 kind=${1%_s*} seed=${1##*_s} out=$OUT/$1
    local C="--train $SHOP/train.csv --valid $SHOP/valid.csv --text review --epochs $EPOCHS --batch 32 --max-len 64 --threads 1 --seed $seed"
    # T: the tasks a run trains; S: the tasks its predictions are scored on (no loss weights)
    local S T
    case $kind in
        dc) S="--task category:softmax:cat" ;;
        ds) S="--task sentiment:binary:label" ;;
        *) S="--task category:softmax:cat --task sentiment:binary:label" ;;
    esac
    T=$S
    [ "$kind" = w ] && T="--task category:softmax:cat:2 --task sentiment:binary:label:1"
    [ "$kind" = m ] && T="$S --task mlm:mlm:review:$MLM_W"
    local X=""  # extra options
    [ "$kind" = p ] && X="--grad-surgery pcgrad"
    {
        case $kind in
            a) "$BIN" finetune -m "$MODEL" $C $T --lr 5e-3 --freeze-encoder -o "$out" ;;
            b | dc | ds | w | m | p) "$BIN" finetune -m "$MODEL" $C $T $X --lr "$LR" -o "$out" ;;
            c) "$BIN" finetune -m "$MODEL" $C $T --lr "$LR" --balance uncertainty -o "$out" ;;
            e) python3 tools/ref/finetune_reference.py -m "$MODEL" -o "$out" --lr "$LR" --batch 32 --max-len 64 \
                   --epochs "$EPOCHS" --threads 1 --seed "$seed" ;;
            *) echo "finetune_table: unknown run kind '$kind' in $name" >&2; return 2 ;;
        esac && if [ "$kind" != e ]; then
            "$BIN" predict -m "$out" -i "$SHOP/test.csv" -o "$out/test_pred.jsonl" &&
                python3 tools/ref/score_predictions.py --pred "$out/test_pred.jsonl" --truth "$SHOP/test.csv" $S \
                    --json > "$out/test_scores.json"
        fi
    } > "$OUT/$name.log" 2>&1
    local rc=$?
    echo "$name rc=$rc $(date +%T)" >> "$OUT/done.txt"
    return $rc
}
export -f one
export BIN SHOP MODEL OUT EPOCHS MLM_W LR

runs=("$@")
[ ${#runs[@]} -eq 0 ] && runs=(b_s42 e_s42 b_s1 e_s1 b_s2 e_s2 ds_s42 dc_s42 ds_s1 dc_s1 ds_s2 dc_s2 c_s42 a_s42)
mkdir -p "$OUT"
printf '%s\n' "${runs[@]}" | xargs -P 2 -I{} bash -c 'one {}'
python3 tools/ref/finetune_table.py "$OUT"
