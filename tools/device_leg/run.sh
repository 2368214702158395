# On the GPU machine (the device tool's `run`): install what .devcarry holds, train, pack the result into $OUT.
#
#   bash tools/device_leg/run.sh CONFIG MINUTES PYTHON_TIMEOUT_S
#
# MINUTES is the training's own budget (its learning rate decays over it with "decay_by_time"); the python
# timeout must leave room for what comes before training (a 400k-scene pool took ~2 minutes there, 150k ~1)
# and after it (the final evaluation and save, ~15 s). PY and DEVICE override python3 and cuda (a CPU rehearsal).
set -e
export PYTHONUNBUFFERED=1 MLFLOW_DISABLE_TELEMETRY=true HF_HUB_OFFLINE=1 T2I_CACHE=/tmp/t2i
PY=${PY:-python3}
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .devcarry/*.whl
export PYTHONPATH=/tmp/site:$PWD
$PY tools/device_leg/restore.py /tmp/site
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
$PY -c "import torch, diffusers, transformers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'diffusers', diffusers.__version__, 'transformers', transformers.__version__)"
set +e
# progress bars are thinned to every 50th update so that the reply's tail shows the whole run
timeout "$3" $PY -m ml_engine train --config "$1" --device "${DEVICE:-cuda}" --no-mlflow --max-minutes "$2" \
  --output-dir /tmp/final 2>&1 | tr '\r' '\n' | awk '/it\/s|s\/it/{n++; if (n % 50) next} {print; fflush()}' | tee "$OUT/train.log"
echo "train exit ${PIPESTATUS[0]}"
NAME=$($PY -c "import json, sys; print(json.load(open(sys.argv[1]))['name'])" "$1")
$PY tools/device_leg/pack.py /tmp/final "$OUT" "/tmp/t2i/runs/$NAME"
