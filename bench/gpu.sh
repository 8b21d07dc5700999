#!/usr/bin/env bash
# All GPU measurements in one go, at the real sizes with random weights, no network, < 5 minutes on one H100/H200.
#
#   bash bench/gpu.sh            # from the repository root; logs go to $OUT/ when OUT is set
#   bash bench/gpu.sh --tiny     # any machine, a few seconds per bench: checks this script, measures nothing
#   bash bench/gpu.sh --patching # only the frame-patching rows: Llasa-1B's training step and scoring at the
#                                # positions of a 5-s XCodec2 clip read at patch 1, 2 and 4 (250, 125, 63 speech
#                                # positions; --patch K sums K frames into one position, llm/patching.py)
#
# The GPU image's python3 has torch 2.11 and transformers 5.17 (no Xcodec2Model): wheels carried in .whl/ are
# installed first into /tmp/site. Each bench runs under its own time limit so one stuck bench cannot eat the rest.
# $PYTHON (default python3) runs the benches.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PYTHON="${PYTHON:-python3}"
ONLY=all
if [ "${1:-}" = "--tiny" ]; then
    ENCODE=(--tiny) TRAIN_STEP=(--tiny) SCORE=(--tiny) PATCH_TRAIN=(--tiny) PATCH_SCORE=(--tiny) PATCHES=(1 2)
else
    ENCODE=(--real-size --clips 128 --batch-size 64 --workers 8) TRAIN_STEP=(--real-size) SCORE=(--real-size)
    PATCH_TRAIN=(--real-size --steps 8) PATCH_SCORE=(--real-size --repeats 5) PATCHES=(1 2 4)
    [ "${1:-}" = "--patching" ] && ONLY=patching
fi
if [ "${1:-}" != "--tiny" ] && compgen -G ".whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "wheel install failed" >&2; exit 1; }
    export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
LOGS="${OUT:-/tmp/codec-bench-gpu}"
mkdir -p "$LOGS"

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
"$PYTHON" -c "import sys, torch, transformers, accelerate; print('python', sys.version.split()[0], '| torch', torch.__version__, \
'| cuda', torch.version.cuda, '| transformers', transformers.__version__, '| accelerate', accelerate.__version__)"

start=$SECONDS
status=0
run() {  # run NAME LIMIT_S COMMAND...: tee the output to $LOGS/NAME.log
    local name=$1 limit=$2
    shift 2
    echo; echo "=== $name: $* (limit ${limit} s)"
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee "$LOGS/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc after $((SECONDS - t0)) s"
    [ "$rc" -eq 0 ] || status=1
}
if [ "$ONLY" = all ]; then
    run encode 110 "$PYTHON" bench/encode.py "${ENCODE[@]}"
    run train_step 100 "$PYTHON" bench/train_step.py "${TRAIN_STEP[@]}"
    run score 70 "$PYTHON" bench/score.py "${SCORE[@]}"
fi
for k in "${PATCHES[@]}"; do  # a 5-s clip: 250 positions at patch 1; the prompt's text adds about 50 tokens
    positions=$(( (250 + k - 1) / k ))
    [ "${1:-}" = "--tiny" ] && positions=$(( 16 / k ))
    run "train_patch$k" 75 "$PYTHON" bench/train_step.py "${PATCH_TRAIN[@]}" --speech-tokens "$positions" "$positions"
    run "score_patch$k" 45 "$PYTHON" bench/score.py "${PATCH_SCORE[@]}" --prompt-tokens $(( positions + 50 ))
done

echo; echo "================ summary ($((SECONDS - start)) s in all) ================"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader
sections=("encode:^XCodec2 encode:" "train_step:^Training step:" "score:^Scoring:")
[ "$ONLY" = all ] || sections=()
for k in "${PATCHES[@]}"; do sections+=("train_patch$k:^Training step:" "score_patch$k:^Scoring:"); done
for section in "${sections[@]}"; do
    name=${section%%:*} pattern=${section#*:}
    echo; echo "[$name]"
    if grep -q "$pattern" "$LOGS/$name.log" 2>/dev/null; then
        sed -n "/$pattern/,\$p" "$LOGS/$name.log"
    else
        echo "$name: no table (see $LOGS/$name.log)"; tail -n 5 "$LOGS/$name.log" 2>/dev/null
    fi
done | tee "$LOGS/summary.txt"
exit $status
