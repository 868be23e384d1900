#!/usr/bin/env bash
# One short session on a GPU machine (torch, timm, numpy, scipy, safetensors; no DICOM, Qt or spreadsheet
# libraries needed): the two GPU benchmarks, then the demo bundle's training.
#
#   OUT=/some/folder bash benchmarks/gpu_session.sh      # BUDGET=seconds for the whole script (default 530)
#
# 1. benchmarks/gpu_cascade.py (issue 6) and benchmarks/gpu_train.py (issue 7), one after the other, each
#    alone on the machine; their JSON and logs go to $OUT.
# 2. The demo cohort (80 phantom patients, seed 2024) is preprocessed once into a shared cache, then the level
#    finder and three scorer recipes train side by side on the one GPU for the time left (--time-limit; the
#    schedules are constant after warm-up, so a run stopped at epoch K equals `--epochs K`). The recipes are
#    compared on VALIDATION figures only; the test patients stay untouched until `ssc evaluate`.
# Each bundle comes back as a tar file (the device returns at most 8 files of 16 MiB).
set -u
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-session}
PY=${PY:-python3}
BUDGET=${BUDGET:-530}
# a quick check of this script on a CPU: DEVICE=cpu PHANTOMS=8 MATRIX=96 INPUT=64 SAMPLES=64 BENCH=0 BUDGET=200
DEVICE=${DEVICE:-cuda}
INPUT=${INPUT:-512}
SAMPLES=${SAMPLES:-4096}
PHANTOMS=${PHANTOMS:-80}
MATRIX=${MATRIX:-512}
BENCH=${BENCH:-1}
mkdir -p "$OUT"
LOGS=$OUT/logs
mkdir -p "$LOGS"
start=$SECONDS
note() { echo "[$((SECONDS - start)) s] $*" | tee -a "$LOGS/session.txt"; }

{ nvidia-smi -L; $PY -c "import sys, torch, timm, numpy, scipy; print(sys.version.split()[0], 'torch', torch.__version__, 'timm', timm.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__, torch.cuda.get_device_name(0))"; nproc; } >"$LOGS/device.txt" 2>&1
note "device: $(tail -2 "$LOGS/device.txt" | head -1)"

if [ "$BENCH" = 1 ]; then
    timeout 110 $PY benchmarks/gpu_cascade.py >"$LOGS/gpu_cascade.log" 2>&1
    note "gpu_cascade rc=$?"
    timeout 110 $PY benchmarks/gpu_train.py >"$LOGS/gpu_train.log" 2>&1
    note "gpu_train rc=$?"
fi
cp -f "$OUT"/gpu_*.json "$LOGS/" 2>/dev/null; rm -f "$OUT"/gpu_*.json

T=/tmp/demo-train
rm -rf "$T"; mkdir -p "$T"
DATA=(--phantoms "$PHANTOMS" --phantom-seed 2024 --phantom-matrix "$MATRIX" --cache "$T/cache")
NAME="SSc demo model (trained on synthetic data, not for clinical use)"
# Preprocess the scorer's samples once, with every core (the three scorer runs then read the cache).
timeout 150 $PY -m ssc_core train scorer "${DATA[@]}" --out "$T/prep" --work "$T/prep.work" --epochs 1 \
    --samples-per-epoch 64 --batch-size 32 --input-size "$INPUT" --workers 15 --device $DEVICE >"$LOGS/prep.log" 2>&1
note "scorer preprocessing rc=$?"

export OMP_NUM_THREADS=4  # four processes share the CPU cores (their work is on the GPU)
left=$((BUDGET - (SECONDS - start) - 80))
limit=$($PY -c "print(round(max(1.0, $left / 60.0), 2))")
note "training for $limit min"
$PY -m ssc_core train levels "${DATA[@]}" --out "$T/levels" --epochs 60 --slice-size 64 --widths 16,32,48,64 \
    --lr 1e-3 --warmup 1 --val-every 2 --workers 12 --device $DEVICE --time-limit "$limit" --name "$NAME" \
    >"$LOGS/levels.log" 2>&1 &
SCORER=(train scorer "${DATA[@]}" --epochs 400 --batch-size 32 --samples-per-epoch "$SAMPLES" --input-size "$INPUT" --warmup 1
    --workers 1 --device $DEVICE --time-limit "$limit" --name "$NAME")
$PY -m ssc_core "${SCORER[@]}" --out "$T/scorerA" --lr 1e-3 --density-weight 1 >"$LOGS/scorerA.log" 2>&1 &
$PY -m ssc_core "${SCORER[@]}" --out "$T/scorerB" --lr 1e-3 --density-weight 0 >"$LOGS/scorerB.log" 2>&1 &
$PY -m ssc_core "${SCORER[@]}" --out "$T/scorerC" --lr 3e-4 --density-weight 1 >"$LOGS/scorerC.log" 2>&1 &
wait
note "training done"
for run in levels scorerA scorerB scorerC; do
    cp -f "$T/$run.training/"*/log.csv "$LOGS/$run-log.csv" 2>/dev/null
    # each run's own network only (a bundle written by one run holds an untrained other network)
    case $run in levels) skip=scorer.safetensors ;; *) skip=level_finder.safetensors ;; esac
    [ -f "$T/$run/spec.json" ] && tar -C "$T" --exclude "$skip" -cf "$OUT/$run.tar" "$run"
done
tar -C "$OUT" -czf "$OUT/logs.tar.gz" logs && rm -rf "$LOGS"
ls -la "$OUT"
