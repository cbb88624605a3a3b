#!/usr/bin/env bash
# The GPU check, prepared for one call of at most ~8 minutes on a lent GPU machine (the device
# tool's `run`; a task's device time is 15 minutes in all, machine start included):
#
#   here, once:  device-pack --with-ort-node gpu-trainer/bench/gpu.ts .device-pack
#                (device-pack: the packing tool kept outside this repository, run from its root;
#                 keep .device-pack out of git: echo "/.device-pack/" >> .git/info/exclude)
#   there:       bash gpu-trainer/bench/device-check.sh .device-pack "$OUT" [BUDGET_S]
#                (carry .device-pack; timeout_s of the call ~ BUDGET_S + 60)
#
# Rows run in order of value, each in its own process, until BUDGET_S (default 450 s) is spent;
# a row that does not fit is listed in skipped.txt instead. As each row finishes, rows.jsonl gains
# one line: {row, exit, seconds, peakMemMiB (nvidia-smi sampled every 100 ms; idleMemMiB before
# it), result} where result is the bench's JSON (step ms, hostBytesPerStep, largestTensorBytes
# where measured, log-prob check, vsTorch). Logs are <row>.log, PyTorch's rows torch-*.json.
#  1. PyTorch fp32 + bf16, mid and q05 (the anchors the ratios need)
#  2. mid full, mid LoRA on node-webgpu (checked against onnxruntime-node's CPU EP) and webgpu
#  3. q05 the same (no CPU check: its log-prob pass is minutes of CPU)
#  4. fp16: mid full + LoRA on both engines
#  5. small and big on both engines, then PyTorch for small and big
# The pack has no plain wasm build: the correctness reference is `--check-engine node`.
set -u
pack=${1:?usage: device-check.sh PACK_DIR [OUT_DIR] [BUDGET_S]}
out=${2:-${OUT:-.}}
budget=${3:-450}
mkdir -p "$out"
start=$SECONDS
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1 || true

# the first bench row unpacks the pack through run.sh (which also brings the Vulkan/GL loaders);
# later rows run the unpacked entry directly with run.sh's environment, saving the unpack
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=${VK_DRIVER_FILES:-$icd}
unpacked=0

mem_used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1; }

# row NAME CAP_S JSON_FILE COMMAND...: run it under the budget, sample the card's memory, append to rows.jsonl
row() {
  local name=$1 cap=$2 json=$3
  shift 3
  local left=$((budget - (SECONDS - start)))
  if [ "$left" -lt 30 ]; then
    echo "$name" >> "$out/skipped.txt"
    return
  fi
  [ "$cap" -gt "$left" ] && cap=$left
  local idle sampler t0=$SECONDS
  idle=$(mem_used)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$out/$name.mem" 2>/dev/null &
  sampler=$!
  timeout "$cap" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  kill "$sampler" 2>/dev/null
  wait "$sampler" 2>/dev/null
  python3 - "$name" "$rc" "$((SECONDS - t0))" "${idle:-}" "$out/$name.mem" "$json" >> "$out/rows.jsonl" << 'PY'
import json, sys
name, rc, secs, idle, mem, res = sys.argv[1:]
def num(s):
    try: return int(s.strip())
    except ValueError: return None
samples = [n for n in map(num, open(mem).read().split()) if n is not None] if mem else []
try: result = json.load(open(res))
except (OSError, ValueError): result = None
print(json.dumps({"row": name, "exit": int(rc), "seconds": int(secs), "idleMemMiB": num(idle) if idle else None,
                  "peakMemMiB": max(samples) if samples else None, "result": result}))
PY
  echo "$name: exit $rc, $((SECONDS - t0)) s"
  grep -E '^(small|mid|big|q05) ' "$out/$name.log" || tail -3 "$out/$name.log"
}

torch() { # NAME CAP_S SIZES
  row "$1" "$2" "$out/$1.json" python3 "$pack/torch_iopo_bench.py" --sizes "$3" --modes full,lora --precisions fp32,bf16 \
    --matmul "" --json "$out/$1.json"
}
ours() { # NAME ENGINE SIZES MODES ARGS...: bench:gpu, 5 timed steps, ratios against PyTorch's rows when present
  local name=$1 engine=$2 sizes=$3 modes=$4
  shift 4
  local cmd=(bash "$pack/run.sh") compare=()
  [ $unpacked = 1 ] && [ -x /tmp/w/node ] && cmd=(/tmp/w/node /tmp/w/p/entry.mjs)
  unpacked=1
  for t in "$out"/torch-*.json; do [ -f "$t" ] && compare=(--compare "$t") && [[ $t == *"$sizes"* ]] && break; done
  row "$name" 120 "$out/$name.json" "${cmd[@]}" --sizes "$sizes" --modes "$modes" --engine "$engine" --steps 5 \
    --json "$out/$name.json" "${compare[@]}" "$@"
}

torch torch-mid-q05 150 mid,q05
for size in mid q05; do
  check=(--check-engine node)
  [ $size = q05 ] && check=(--no-check)
  for engine in node-webgpu webgpu; do
    for mode in full lora; do ours "$size-$mode-$engine" "$engine" $size $mode "${check[@]}"; done
  done
done
for engine in node-webgpu webgpu; do ours "mid-fp16-$engine" "$engine" mid full,lora --precision fp16 --no-check; done
torch torch-small-big 90 small,big
for size in small big; do
  for engine in node-webgpu webgpu; do ours "$size-$engine" "$engine" $size full,lora --no-check; done
done
echo "device-check: $((SECONDS - start)) s of $budget; rows in $out/rows.jsonl$([ -f "$out/skipped.txt" ] && echo "; skipped: $(tr '\n' ' ' < "$out/skipped.txt")")"
