#!/usr/bin/env bash
# Issue 12's GPU checks, prepared for one call on a GPU machine (the device tool's `run`):
#
#   here, once:  device-pack gpu-trainer/bench/gpu.ts .device-pack
#                (device-pack: the packing tool kept outside this repository, run from its root)
#                (keep .device-pack out of git: echo "/.device-pack/" >> .git/info/exclude)
#   there:       bash gpu-trainer/bench/device-check.sh .device-pack "$OUT" [torch|small|large|all]
#                (carry .device-pack; the files land in $OUT)
#
# torch: PyTorch on the same shapes (the pack's torch_iopo_bench.py, which device-pack copies in;
#        this script only reads the pack it is given) -> torch.json, torch.log
# small: bench:gpu small,mid full+LoRA on webgpu, profiled, log-probs checked against wasm, ratios
#        against torch.json when present -> iopo-small-mid.json, .log
# large: big,q05 full+LoRA on webgpu (no wasm check: minutes of CPU) -> iopo-big-q05.json, .log
# all (default): the three in order. Each phase fits well under 10 minutes on an H200.
# The pack has no onnxruntime-node, so node-webgpu is not measured here.
set -u
pack=${1:?usage: device-check.sh PACK_DIR [OUT_DIR] [torch|small|large|all]}
out=${2:-${OUT:-.}}
phase=${3:-all}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1 || true
compare=()
run_torch() {
  python3 "$pack/torch_iopo_bench.py" --sizes small,mid,big,q05 --modes full,lora --precisions fp32,bf16 \
    --json "$out/torch.json" > "$out/torch.log" 2>&1
  echo "torch: exit $? ($(grep -c '^RESULT' "$out/torch.log") rows)"
}
run_ours() { # name sizes extra-args...
  local name=$1 sizes=$2
  shift 2
  [ -f "$out/torch.json" ] && compare=(--compare "$out/torch.json")
  bash "$pack/run.sh" --sizes "$sizes" --modes full,lora --engine webgpu --json "$out/iopo-$name.json" \
    "${compare[@]}" "$@" > "$out/iopo-$name.log" 2>&1
  echo "iopo $name: exit $?"
  grep -E '^(small|mid|big|q05) ' "$out/iopo-$name.log" || tail -5 "$out/iopo-$name.log"
}
case $phase in
  torch) run_torch ;;
  small) run_ours small-mid small,mid --profile ;;
  large) run_ours big-q05 big,q05 --no-check ;;
  all)
    run_torch
    run_ours small-mid small,mid --profile
    run_ours big-q05 big,q05 --no-check
    ;;
  *) echo "unknown phase $phase (torch|small|large|all)" && exit 2 ;;
esac
