"""Benchmark inference engines for a causal model: the floor costs of reply suggestions and
typeahead with the bundled SmolLM2-135M-Instruct, one engine at a time, on 2 threads.

Run it by hand from the repository root (the engines it finds installed are measured, the
others are skipped with the reason; `pip install onnxruntime-genai onnx onnx_ir` for `ort`, and
`pip install llama-cpp-python` for `llama`, which compiles llama.cpp: about 13 minutes here)::

    python benchmarks/engines.py                        # every engine found (~7 min)
    python benchmarks/engines.py --engines hf ct2       # only some (prefixes of the row names)
    python benchmarks/engines.py --reps 3               # quicker, noisier
    python benchmarks/engines.py --workdir /tmp/twinchat-bench-engines   # keep the conversions

Engines (each row runs in a child process of its own, with 2 threads):

- `hf-*`: transformers `AutoModelForCausalLM` on `model_path("bundled:smollm2-135m")`, fp32,
  under `torch.no_grad()` and under `torch.inference_mode()`, and with `quantize_dynamic` int8
  on every `nn.Linear`. A `DynamicCache` prefilled once, `batch_repeat_interleave(5)` for the
  5 rows, a decode loop written by hand, `cache.crop(-dropped)` to rewind; `logits_to_keep=1`.
- `ct2-*`: CTranslate2 `Generator` on the same folder converted with `--quantization int8`,
  run as int8 and as float32; `generate_batch` with `include_prompt_in_result=False`,
  `num_hypotheses=5` for the rows (it forwards the prompt once) and `static_prompt` for the
  kept conversation. Its steps run inside `generate_batch`: step ×1 and ×5 are the slopes
  between 1 and 17 generated tokens.
- `llama-*`: llama.cpp through `llama-cpp-python`'s low-level API on the bundled GGUF (Q4_1,
  its embeddings Q8_0) and on Q8_0 and F16 files re-encoded from it with the `gguf` package.
  One prefill on sequence 0, `llama_memory_seq_cp` to sequences 1-4, batched decoding of the 5
  sequences; `llama_memory_seq_rm` to rewind.
- `ort-*`: onnxruntime-genai on models built from the transformers folder by
  `onnxruntime_genai.models.builder` (int4, int8, fp32, CPU); the 5 rows are a batch of 5
  copies of the prompt (`num_return_sequences` needs beam search, and no call copies a cache
  between rows); a note gives (a) done the other way, 5 rows one after the other on one
  prefill with `rewind_to`. `Generator.rewind_to` rewinds (b).

Measures, all with the same 150-token conversation, medians over `--reps` repetitions or more:

- **prefill**: the 150 tokens through the model up to the next token's logits (ms, ms/token);
- **step ×1 / ×5**: one decoding step (a token in, logits out) at batch 1 and at 5 rows;
- **(a) suggestion**: 5 candidates of 17 sampled tokens (top-k 50): one prefill shared by the 5
  rows (where the engine can share it), then 16 batched steps; end to end, from tokens in to
  tokens out, fresh state each time. Goal ≤ 1,500 ms.
- **(b) keystroke**: the conversation is already in a kept cache; 4 typed tokens appended in one
  forward pass, then 8 greedy tokens (7 more steps), then the cache is rewound to the
  conversation for the next keystroke. p50 and p90 over many keystrokes. Goal p90 ≤ 100 ms.

Generation never stops early: every engine makes exactly 17 (a) or 8 (b) tokens. These are floor
costs, without twinchat's prompt building, curation or scoring (benchmarks/suggest.py measures
those). A second table gives each measure's speedup over the `hf-fp32` row. The last column
of the first is the share of the CPUs other processes used while the row was measured (from
/proc/stat); a row above 5% is flagged, and its numbers should be measured again.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

THREADS = 2
PROMPT = 150
"""Tokens of the conversation."""
ROWS = 5
NEW_A = 17
"""Tokens sampled per candidate in case (a)."""
TYPED = 4
NEW_B = 8
"""Greedy tokens in case (b)."""
TOP_K = 50
GOAL_A_MS = 1500.0
GOAL_B_MS = 100.0

CONVERSATION = """\
<|im_start|>system
You continue a group chat on IRC. Reply as the named speaker, briefly.<|im_end|>
<|im_start|>user
[19:02] dana: anyone here managed to get the wifi working after the upgrade to 24.04?
[19:03] wulax: dana: which card? lspci -nn | grep -i net and paste the line
[19:03] dana: Intel AX210, it worked fine on 22.04 and now the icon is just gone
[19:04] ubotu: for wireless problems see https://help.ubuntu.com/community/WifiDocs
[19:05] wulax: dana: check if the firmware package got removed, sudo apt install linux-firmware
[19:06] dana: it says linux-firmware is already the newest version
[19:06] mike_t: same here on a thinkpad, rfkill list showed it soft blocked
[19:07] dana: rfkill says no blocks at all, but dmesg has iwlwifi errors about the ucode
[19:08] wulax: then the kernel wants a newer ucode than the one installed, which kernel?
[19:09] dana: 6.8.0-31, the default one
[19:10] mike_t: try booting the previous kernel from the grub menu, hold shift at boot
<|im_end|>
<|im_start|>assistant
[19:11] dana:"""
TYPED_TEXT = " ok I will try that"

ENGINES: dict[str, str] = {
    "hf-fp32": "transformers fp32, torch.no_grad",
    "hf-fp32-inference": "transformers fp32, torch.inference_mode",
    "hf-int8-dynamic": "transformers, quantize_dynamic int8 Linear",
    "ct2-int8": "CTranslate2 int8",
    "ct2-fp32": "CTranslate2 float32 (from the int8 conversion)",
    "llama-q4_1": "llama.cpp, bundled GGUF Q4_1",
    "llama-q8_0": "llama.cpp, GGUF Q8_0 (re-encoded)",
    "llama-f16": "llama.cpp, GGUF F16 (re-encoded)",
    "ort-int4": "onnxruntime-genai int4",
    "ort-int8": "onnxruntime-genai int8",
    "ort-fp32": "onnxruntime-genai fp32",
}
REQUIRES = {"ct2": "ctranslate2", "llama": "llama_cpp", "ort": "onnxruntime_genai"}
INSTALL = {
    "ctranslate2": "pip install ctranslate2",
    "llama_cpp": "pip install llama-cpp-python (compiles llama.cpp)",
    "onnxruntime_genai": "pip install onnxruntime-genai onnx onnx_ir",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", help="row names or their prefixes (hf, ct2, …)")
    parser.add_argument("--reps", type=int, default=7, help="repetitions of the slow measures")
    parser.add_argument("--workdir", type=Path, help="keep the converted models here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _child(options.child, options.workdir, options.reps)
        return

    wanted = options.engines or [""]
    keys = [k for k in ENGINES if any(k.startswith(e) for e in wanted)]
    work = options.workdir or Path(tempfile.mkdtemp(prefix="twinchat-bench-engines-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        _print_machine()
        rows: dict[str, dict[str, Any]] = {}
        for key in keys:
            missing = REQUIRES.get(key.split("-")[0])
            if missing and importlib.util.find_spec(missing) is None:
                print(f"skip {key}: {missing} is not installed ({INSTALL[missing]})", flush=True)
                continue
            print(f"measuring {key} …", flush=True)
            row = _run_child(key, work, options.reps)
            if row is not None:
                rows[key] = row
                for note in row.get("notes", []):
                    print(f"  {note}", flush=True)
        _print_tables(rows)
    finally:
        if options.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


def _run_child(key: str, work: Path, reps: int) -> dict[str, Any] | None:
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=str(THREADS),
        MKL_NUM_THREADS=str(THREADS),
        TOKENIZERS_PARALLELISM="false",
        TRANSFORMERS_VERBOSITY="error",
        HF_HUB_OFFLINE="1",
    )
    command = [sys.executable, __file__, "--child", key, "--workdir", str(work)]
    command += ["--reps", str(reps)]
    busy, own = _cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    begin = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - begin
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime
    others = max(0.0, _cpu_seconds() - busy - used) / (wall * (os.cpu_count() or 1))
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-6:]
        print(f"skip {key}: failed (exit {done.returncode})", flush=True)
        for line in tail:
            print(f"  | {line}", flush=True)
        return None
    row = json.loads(lines[-1])
    row["others"] = others
    if others > 0.05:
        row["notes"].append(
            f"WARNING: other processes used {others:.0%} of the CPUs meanwhile: numbers unreliable"
        )
    return row


def _cpu_seconds() -> float:
    """CPU seconds spent busy by the whole machine since boot (all CPUs, /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _print_machine() -> None:
    import torch

    info = dict(
        line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().splitlines() if ":" in line
    )
    info = {k.strip(): v.strip() for k, v in info.items()}
    flags = info.get("flags", "").split()
    isa = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
    model = info.get("model name", platform.processor())
    blas = "MKL" if torch.backends.mkl.is_available() else "no MKL"
    print(f"CPU: {model}, {os.cpu_count()} logical CPUs, {THREADS} threads used by every engine")
    print(f"ISA: {' '.join(f for f in isa if f in flags)}")
    print(
        f"torch {torch.__version__}: CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{blas}, oneDNN {torch.backends.mkldnn.is_available()}"
    )
    for name in ("transformers", "ctranslate2", "llama_cpp", "onnxruntime", "onnxruntime_genai"):
        if importlib.util.find_spec(name) is not None:
            module = __import__(name)
            print(f"{name} {getattr(module, '__version__', '?')}")
    print(flush=True)


COLUMNS = [
    ("prefill_ms", "prefill 150 ms"),
    ("prefill_token_ms", "ms/token"),
    ("step1_ms", "step ×1 ms"),
    ("step5_ms", "step ×5 ms"),
    ("a_ms", "(a) 5×17 ms"),
    ("b_p50_ms", "(b) p50 ms"),
    ("b_p90_ms", "(b) p90 ms"),
]


def _print_tables(rows: dict[str, dict[str, Any]]) -> None:
    if not rows:
        print("nothing measured")
        return
    head = ["engine", "weights", "load s", *(title for _, title in COLUMNS), "goals (a), (b)"]
    head.append("others' CPU")
    print("\n| " + " | ".join(head) + " |")
    print("| " + " | ".join("---" for _ in head) + " |")
    for key, row in rows.items():
        goals = "{} {}".format(
            "✓" if row["a_ms"] <= GOAL_A_MS else "✗", "✓" if row["b_p90_ms"] <= GOAL_B_MS else "✗"
        )
        cells = [key, row["weights"], f"{row['load_s']:.1f}"]
        cells += [_fmt(row[field]) for field, _ in COLUMNS]
        print("| " + " | ".join([*cells, goals, f"{row['others']:.0%}"]) + " |")
    base = rows.get("hf-fp32")
    if base is None:
        return
    print("\nSpeedup over hf-fp32 (its time / the row's time):\n")
    head = ["engine", *(title.replace(" ms", "") for _, title in COLUMNS)]
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join("---" for _ in head) + " |")
    for key, row in rows.items():
        cells = [f"{base[field] / row[field]:.2f}×" for field, _ in COLUMNS]
        print("| " + " | ".join([key, *cells]) + " |")


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


# ---------------------------------------------------------------------------------------------
# Child process: one engine


def _child(key: str, work: Path, reps: int) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    from transformers import AutoTokenizer

    from twinchat.bundled import gguf_file, model_path

    folder = Path(model_path("bundled:smollm2-135m"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompt = tokenizer(CONVERSATION, add_special_tokens=False)["input_ids"]
    if len(prompt) < PROMPT:
        raise SystemExit(f"the conversation has {len(prompt)} tokens, fewer than {PROMPT}")
    prompt = prompt[-PROMPT:]
    typed = tokenizer(TYPED_TEXT, add_special_tokens=False)["input_ids"][:TYPED]
    family = key.split("-")[0]
    subject = {"folder": folder, "gguf": Path(gguf_file("smollm2-135m")), "work": work}
    measure = {"hf": _hf, "ct2": _ct2, "llama": _llama, "ort": _ort}[family]
    if family == "ct2":
        subject["tokens"] = tokenizer.convert_ids_to_tokens
    row = measure(key, subject, prompt, typed, reps)
    row["prefill_token_ms"] = row["prefill_ms"] / PROMPT
    print(json.dumps(row), flush=True)


def _ms(fn: Callable[[], Any], reps: int, warmup: int = 1) -> list[float]:
    """`fn`'s wall time in ms, `reps` times after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _p90(times: list[float]) -> float:
    return statistics.quantiles(times, n=10, method="inclusive")[-1]


def _keystrokes(reps: int) -> int:
    return max(20, 6 * reps)


def _row(weights: str, load_s: float, prefill, step1, step5, a, b, notes) -> dict[str, Any]:
    return {
        "weights": weights,
        "load_s": load_s,
        "prefill_ms": statistics.median(prefill),
        "step1_ms": statistics.median(step1),
        "step5_ms": statistics.median(step5),
        "a_ms": statistics.median(a),
        "b_p50_ms": statistics.median(b),
        "b_p90_ms": _p90(b),
        "notes": notes,
    }


# --- transformers ----------------------------------------------------------------------------


def _hf(key: str, subject: dict, prompt: list[int], typed: list[int], reps: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, DynamicCache

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    notes = []
    begin = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(subject["folder"], dtype=torch.float32).eval()
    weights = "fp32"
    if key == "hf-int8-dynamic":
        from torch.ao.quantization import quantize_dynamic

        model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        weights = "int8 dynamic (Linear), fp32 rest"
        engine = torch.backends.quantized.engine
        notes.append(f"quantize_dynamic works here (quantized engine {engine})")
    load_s = time.perf_counter() - begin
    guard = torch.inference_mode if key == "hf-fp32-inference" else torch.no_grad
    ids = torch.tensor([prompt])
    typed_ids = torch.tensor([typed])

    def forward(tokens: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
        out = model(input_ids=tokens, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1, :]

    def _rewind(cache: DynamicCache) -> None:
        # transformers 5 crops by a negative count of tokens to drop (not a length to keep).
        cache.crop(PROMPT - cache.get_seq_length())

    def sample(logits: torch.Tensor) -> torch.Tensor:
        top = torch.topk(logits, TOP_K, dim=-1)
        pick = torch.multinomial(torch.softmax(top.values, dim=-1), 1)
        return top.indices.gather(-1, pick)

    with guard():

        def prefill() -> tuple[torch.Tensor, DynamicCache]:
            cache = DynamicCache(config=model.config)
            return forward(ids, cache), cache

        prefill_ms = _ms(prefill, reps)
        logits, cache = prefill()
        token = logits.argmax(-1, keepdim=True)

        def step1() -> None:
            forward(token, cache)
            _rewind(cache)

        step1_ms = _ms(step1, 4 * reps)
        rows = DynamicCache(config=model.config)
        forward(ids, rows)
        rows.batch_repeat_interleave(ROWS)
        tokens = token.repeat(ROWS, 1)

        def step5() -> None:
            forward(tokens, rows)
            _rewind(rows)

        step5_ms = _ms(step5, 4 * reps)

        def suggestion() -> None:
            logits, fresh = prefill()
            fresh.batch_repeat_interleave(ROWS)
            logits = logits.expand(ROWS, -1)
            for i in range(NEW_A):
                chosen = sample(logits)
                if i < NEW_A - 1:
                    logits = forward(chosen, fresh)

        a_ms = _ms(suggestion, reps)
        kept = prefill()[1]

        def keystroke() -> None:
            logits = forward(typed_ids, kept)
            for i in range(NEW_B):
                chosen = logits.argmax(-1, keepdim=True)
                if i < NEW_B - 1:
                    logits = forward(chosen, kept)
            _rewind(kept)

        b_ms = _ms(keystroke, _keystrokes(reps))
    if kept.get_seq_length() != PROMPT:
        raise RuntimeError("the cache was not rewound")
    notes.append(
        "keeps and rewinds the cache (DynamicCache.crop, by a negative count); "
        "shares the prefill (batch_repeat_interleave to 5 rows)"
    )
    return _row(weights, load_s, prefill_ms, step1_ms, step5_ms, a_ms, b_ms, notes)


# --- CTranslate2 -----------------------------------------------------------------------------


def _ct2(key: str, subject: dict, prompt: list[int], typed: list[int], reps: int) -> dict:
    import ctranslate2

    target = subject["work"] / "ct2-int8"
    notes = []
    if not (target / "model.bin").exists():
        begin = time.perf_counter()
        converter = ctranslate2.converters.TransformersConverter(str(subject["folder"]))
        converter.convert(str(target), quantization="int8", force=True)
        notes.append(f"converted to int8 in {time.perf_counter() - begin:.0f} s")
    compute = "int8" if key == "ct2-int8" else "float32"
    begin = time.perf_counter()
    generator = ctranslate2.Generator(
        str(target), device="cpu", compute_type=compute, intra_threads=THREADS, inter_threads=1
    )
    load_s = time.perf_counter() - begin
    conversation = subject["tokens"](prompt)
    keys = subject["tokens"](typed)

    def generate(length: int, rows: int = 1, **options: Any) -> list:
        sampling = {"sampling_topk": TOP_K} if rows > 1 else {}
        results = generator.generate_batch(
            options.pop("start", [conversation]),
            max_length=length,
            min_length=length,
            num_hypotheses=rows,
            include_prompt_in_result=False,
            **sampling,
            **options,
        )
        made = {len(s) for s in results[0].sequences_ids}
        if made != {length}:
            raise RuntimeError(f"asked for {length} tokens, got {made}")
        return results

    prefill_ms = _ms(lambda: generate(1), reps)
    # A step is the slope between 1 and 1 + n tokens: CTranslate2 loops inside generate_batch.
    n = 16
    longer = _ms(lambda: generate(1 + n), reps)
    step1_ms = [(statistics.median(longer) - statistics.median(prefill_ms)) / n]
    first5 = _ms(lambda: generate(1, ROWS), reps)
    longer5 = _ms(lambda: generate(1 + n, ROWS), reps)
    step5_ms = [(statistics.median(longer5) - statistics.median(first5)) / n]
    a_ms = _ms(lambda: generate(NEW_A, ROWS), reps)
    b_ms = _ms(
        lambda: generate(NEW_B, start=[keys], static_prompt=conversation),
        _keystrokes(reps),
        warmup=2,
    )
    notes.append(
        f"prefill for 5 hypotheses {statistics.median(first5):.0f} ms vs "
        f"{statistics.median(prefill_ms):.0f} ms for 1: num_hypotheses repeats the prompt "
        "in the batch before the prefill"
        if statistics.median(first5) > 2 * statistics.median(prefill_ms)
        else f"prefill for 5 hypotheses {statistics.median(first5):.0f} ms vs "
        f"{statistics.median(prefill_ms):.0f} ms for 1: shared"
    )
    notes.append(
        "step ×1/×5 are slopes (generate 17 tokens − generate 1) / 16; (b) uses static_prompt: "
        "the conversation's state is cached per prompt and copied per call, no explicit rewind"
    )
    return _row(
        f"{compute} (int8 conversion)", load_s, prefill_ms, step1_ms, step5_ms, a_ms, b_ms, notes
    )


# --- llama.cpp -------------------------------------------------------------------------------


def _requantized(source: Path, target: Path, kind: str) -> None:
    """`source`'s tensors re-encoded as Q8_0 or F16 (from their dequantized values)."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(source)
    arch = reader.get_field(gguf.Keys.General.ARCHITECTURE).contents()
    writer = gguf.GGUFWriter(str(target), arch=arch)
    for field in reader.fields.values():
        if field.name in (gguf.Keys.General.ARCHITECTURE, gguf.Keys.General.FILE_TYPE):
            continue
        if field.name.startswith("GGUF."):
            continue
        kind_of = field.types[0]
        sub = field.types[-1] if kind_of == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind_of, sub_type=sub)
    if kind == "q8_0":
        qtype, file_type = gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0
    else:
        qtype, file_type = gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16
    writer.add_file_type(file_type)
    for tensor in reader.tensors:
        if tensor.tensor_type == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(tensor.name, np.array(tensor.data))
            continue
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        if qtype == gguf.GGMLQuantizationType.F16:
            writer.add_tensor(tensor.name, values.astype(np.float16))
        else:
            writer.add_tensor(tensor.name, gguf.quants.quantize(values, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _llama(key: str, subject: dict, prompt: list[int], typed: list[int], reps: int) -> dict:
    import ctypes

    import llama_cpp as L
    import numpy as np

    notes = []
    kind = key.split("-", 1)[1]
    path = subject["gguf"]
    if kind != "q4_1":
        path = subject["work"] / f"smollm2-135m.{kind}.gguf"
        if not path.exists():
            begin = time.perf_counter()
            _requantized(subject["gguf"], path, kind)
            notes.append(f"re-encoded to {kind} in {time.perf_counter() - begin:.0f} s")
    silence = L.llama_log_callback(lambda level, text, data: None)
    L.llama_log_set(silence, ctypes.c_void_p())
    L.llama_backend_init()
    begin = time.perf_counter()
    params = L.llama_model_default_params()
    model = L.llama_model_load_from_file(str(path).encode(), params)
    settings = L.llama_context_default_params()
    settings.n_ctx = 512
    settings.n_batch = settings.n_ubatch = 512
    settings.n_seq_max = ROWS
    settings.n_threads = settings.n_threads_batch = THREADS
    settings.kv_unified = True
    ctx = L.llama_init_from_model(model, settings)
    load_s = time.perf_counter() - begin
    if not ctx:
        raise RuntimeError("llama_init_from_model failed")
    memory = L.llama_get_memory(ctx)
    vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    batch = L.llama_batch_init(512, 0, ROWS)
    rng = np.random.default_rng(0)
    info = L.llama_print_system_info().decode().strip()
    notes.append(f"llama.cpp system info: {info}")

    def decode(items: list[tuple[int, int, int]], want: int) -> list[np.ndarray]:
        """Decode (token, position, sequence) items; logits of the last `want` items."""
        batch.n_tokens = len(items)
        for i, (token, pos, seq) in enumerate(items):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = i >= len(items) - want
        if L.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")
        first = len(items) - want
        return [
            np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, first + i), shape=(vocab,))
            for i in range(want)
        ]

    def sample(logits: np.ndarray) -> int:
        top = np.argpartition(logits, -TOP_K)[-TOP_K:]
        weights = np.exp(logits[top] - logits[top].max())
        return int(top[rng.choice(TOP_K, p=weights / weights.sum())])

    def prefill() -> np.ndarray:
        L.llama_memory_clear(memory, True)
        return decode([(t, p, 0) for p, t in enumerate(prompt)], 1)[0]

    prefill_ms = _ms(prefill, reps)
    token = int(prefill().argmax())

    def step1() -> None:
        decode([(token, PROMPT, 0)], 1)
        L.llama_memory_seq_rm(memory, 0, PROMPT, -1)

    step1_ms = _ms(step1, 4 * reps)
    for seq in range(1, ROWS):
        L.llama_memory_seq_cp(memory, 0, seq, -1, -1)

    def step5() -> None:
        decode([(token, PROMPT, seq) for seq in range(ROWS)], ROWS)
        L.llama_memory_seq_rm(memory, -1, PROMPT, -1)

    step5_ms = _ms(step5, 4 * reps)

    def suggestion() -> None:
        logits = [prefill().copy()] * ROWS
        for seq in range(1, ROWS):
            L.llama_memory_seq_cp(memory, 0, seq, -1, -1)
        for i in range(NEW_A):
            chosen = [sample(row) for row in logits]
            if i < NEW_A - 1:
                logits = decode([(t, PROMPT + i, s) for s, t in enumerate(chosen)], ROWS)

    a_ms = _ms(suggestion, reps)
    prefill()

    def keystroke() -> None:
        logits = decode([(t, PROMPT + p, 0) for p, t in enumerate(typed)], 1)[0]
        for i in range(NEW_B):
            chosen = int(logits.argmax())
            if i < NEW_B - 1:
                logits = decode([(chosen, PROMPT + TYPED + i, 0)], 1)[0]
        L.llama_memory_seq_rm(memory, 0, PROMPT, -1)

    b_ms = _ms(keystroke, _keystrokes(reps))
    if L.llama_memory_seq_pos_max(memory, 0) != PROMPT - 1:
        raise RuntimeError("the cache was not rewound")
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)
    notes.append(
        "keeps and rewinds the cache (llama_memory_seq_rm); shares the prefill "
        "(llama_memory_seq_cp to sequences 1-4, unified KV cache), batched decoding of 5"
    )
    weights = {"q4_1": "Q4_1 (embeddings Q8_0)", "q8_0": "Q8_0", "f16": "F16"}[kind]
    return _row(weights, load_s, prefill_ms, step1_ms, step5_ms, a_ms, b_ms, notes)


# --- onnxruntime-genai -----------------------------------------------------------------------


def _ort(key: str, subject: dict, prompt: list[int], typed: list[int], reps: int) -> dict:
    import numpy as np
    import onnxruntime_genai as og

    notes = []
    precision = key.split("-", 1)[1]
    target = subject["work"] / f"ort-{precision}"
    if not (target / "genai_config.json").exists():
        begin = time.perf_counter()
        command = [
            sys.executable, "-m", "onnxruntime_genai.models.builder",
            "-i", str(subject["folder"]), "-o", str(target), "-p", precision, "-e", "cpu",
            "-c", str(subject["work"] / "ort-cache"),
        ]  # fmt: skip
        built = subprocess.run(command, capture_output=True, text=True, check=False)
        if built.returncode != 0 or not (target / "genai_config.json").exists():
            raise RuntimeError("builder failed: " + built.stderr.strip()[-800:])
        notes.append(f"built {precision} in {time.perf_counter() - begin:.0f} s")
    begin = time.perf_counter()
    config = og.Config(str(target))
    config.clear_providers()
    threads = {"intra_op_num_threads": THREADS, "inter_op_num_threads": 1}
    config.overlay(json.dumps({"model": {"decoder": {"session_options": threads}}}))
    model = og.Model(config)
    load_s = time.perf_counter() - begin
    conversation = np.array([prompt], dtype=np.int32)
    keys = np.array([typed], dtype=np.int32)
    length = PROMPT + TYPED + NEW_A + NEW_B + 8

    def generator(rows: int, sample: bool = False) -> og.Generator:
        params = og.GeneratorParams(model)
        search: dict[str, Any] = {"max_length": length, "min_length": length}
        if sample:
            search.update(do_sample=True, top_k=TOP_K)
        if rows > 1:
            # num_return_sequences needs beam search: 5 sampled rows are a batch of 5 prompts.
            search.update(do_sample=True, top_k=TOP_K, batch_size=rows)
        params.set_search_options(**search)
        return og.Generator(model, params)

    def prefill(rows: int = 1) -> og.Generator:
        made = generator(rows)
        made.append_tokens(np.repeat(conversation, rows, axis=0))
        return made

    prefill_ms = _ms(prefill, reps)
    prefill5 = statistics.median(_ms(lambda: prefill(ROWS), reps))

    def steps(rows: int) -> list[float]:
        made = prefill(rows)
        made.generate_next_token()  # samples from the prefill's logits: no forward pass
        return _ms(made.generate_next_token, 4 * reps)

    step1_ms = steps(1)
    step5_ms = steps(ROWS)

    def suggestion() -> None:
        made = prefill(ROWS)
        for _ in range(NEW_A):
            made.generate_next_token()
        if made.get_sequence(ROWS - 1).shape[0] != PROMPT + NEW_A:
            raise RuntimeError("wrong length")

    a_ms = _ms(suggestion, reps)

    def one_by_one() -> None:
        # The other way to share the prefill: one sampling row at a time, each rewound to the
        # conversation but its last token, which is fed again for the next row's first logits.
        made = generator(1, sample=True)
        made.append_tokens(conversation)
        for row in range(ROWS):
            if row:
                made.rewind_to(PROMPT - 1)
                made.append_tokens(conversation[:, -1:])
            for _ in range(NEW_A):
                made.generate_next_token()

    sequential = statistics.median(_ms(one_by_one, reps))
    kept = prefill(1)

    def keystroke() -> None:
        kept.append_tokens(keys)
        for _ in range(NEW_B):
            kept.generate_next_token()
        kept.rewind_to(PROMPT)

    b_ms = _ms(keystroke, _keystrokes(reps))
    if kept.get_sequence(0).shape[0] != PROMPT:
        raise RuntimeError("the cache was not rewound")
    base = statistics.median(prefill_ms)
    shared = "the prompt is prefilled once per row (batch of 5 copies)"
    notes.append(f"prefill for 5 sequences {prefill5:.0f} ms vs {base:.0f} ms for 1: {shared}")
    notes.append(
        f"(a) as 5 rows one after the other on one prefill, with rewind_to: {sequential:.0f} ms"
    )
    notes.append("keeps and rewinds the cache (Generator.rewind_to, batch 1)")
    return _row(precision, load_s, prefill_ms, step1_ms, step5_ms, a_ms, b_ms, notes)


if __name__ == "__main__":
    main()
