"""Times Google's IFEval reference in-process (strict + loose over one input/response set, after
imports and Punkt loading), in wall-clock and in CPU time of this process, for
scripts/bench-judge.ts --reference DIR. CPU time is what a shared, busy machine distorts least.

Usage: /usr/bin/python3 time-ifeval-reference.py REFERENCE_DIR INPUT_DATA RESPONSES [repeats]

REFERENCE_DIR is the folder of the runnable reference (its run.py prepares the reference the way
its verdicts were produced: Punkt through a restricted unpickler, langdetect seeded with 0); this
script runs that preparation, not its evaluation, then times the evaluation itself.
"""
import os
import sys
import time

ref_dir, input_data, responses = sys.argv[1:4]
repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 5
sys.argv = [sys.argv[0], ref_dir, input_data, responses, os.devnull, "seed"]
setup = open(os.path.join(ref_dir, "run.py")).read().split("inputs = evaluation_lib.read_prompt_list")[0]
namespace = {"__file__": os.path.join(ref_dir, "run.py"), "__name__": "reference_setup"}
exec(compile(setup, namespace["__file__"], "exec"), namespace)
evaluation_lib = namespace["evaluation_lib"]

inputs = evaluation_lib.read_prompt_list(input_data)
prompt_to_response = evaluation_lib.read_prompt_to_response_dict(responses)
wall, cpu = [], []
for _ in range(repeats):
    w, c = time.perf_counter(), time.process_time()
    for judge in (evaluation_lib.test_instruction_following_strict, evaluation_lib.test_instruction_following_loose):
        for record in inputs:
            judge(record, prompt_to_response)
    wall.append((time.perf_counter() - w) * 1000)
    cpu.append((time.process_time() - c) * 1000)
wall.sort()
cpu.sort()
print(
    f"reference in-process, {len(inputs)} records strict+loose: median {wall[len(wall) // 2]:.0f} ms "
    f"(min {wall[0]:.0f}, max {wall[-1]:.0f}); cpu median {cpu[len(cpu) // 2]:.0f} ms (min {cpu[0]:.0f})"
)
