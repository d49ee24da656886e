"""Benchmark ``twinchat prepare`` against a json.load + pandas baseline.

Run it by hand from the repository root::

    python benchmarks/prepare.py                      # sizes 200000 and 1000000
    python benchmarks/prepare.py --sizes 20000 100000 # quicker
    python benchmarks/prepare.py --keep --workdir /tmp/twinchat-bench

For every size N it

1. writes a synthetic, deterministic (seeded) Telegram Desktop single-chat export
   ``result.json`` of N messages, streamed to disk in the layout Telegram Desktop uses
   (indent 1, UTF-8): about 12 senders with a Zipf-like share, plain-string texts of
   1-30 words (median about 8), about 10% formatted texts (a list of strings and entity
   objects), about 3% service messages (pinned messages), 3% photos, 1% stickers,
   replies and edits here and there, and time gaps of seconds to minutes with an
   occasional gap of hours (so 120-minute sessions hold a few dozen messages);
2. runs ``python -m twinchat prepare result.json -o OUTDIR`` in a child process;
3. runs, in a child process too, the comparator below (``--comparator``): what the
   reference blog post did -- ``json.load`` of the whole file, a pandas DataFrame,
   a Python loop that splits sessions at 120-minute gaps and builds every example
   (up to 10 previous messages of the session as context) in a list, then writes
   ``messages.jsonl``, ``train.jsonl`` and ``validation.jsonl`` (last 2%);
4. prints, per size, wall seconds, peak resident memory and the number of examples of
   both, with the ratios comparator/twinchat, and at the end how much twinchat's peak
   memory grew from the smallest size to the largest.

Goals: time ratio >= 3x, memory ratio >= 5x, twinchat memory growth (largest size vs
smallest, i.e. 1M vs 200K by default) <= 1.5x.

How it measures: each command is started with ``subprocess.Popen`` and reaped with
``os.wait4``, which returns that child's own resource usage; on Linux its ``ru_maxrss``
is the peak resident set size in KiB of the child (or of any descendant it waited for,
whichever is larger), so no measurement leaks from one run into the next the way
``getrusage(RUSAGE_CHILDREN)`` would. Wall time is ``time.perf_counter`` from just
before ``Popen`` to the return of ``wait4``, so it includes interpreter start-up and
imports for both sides. Children's stdout/stderr go to log files in the work folder.

The work folder is a temporary directory removed at the end unless ``--keep`` (or
``--workdir``, which is never removed) is given; without ``--keep`` the outputs of each
size are deleted as soon as that size is measured, to keep the disk use down (a 1M
message export is about 370 MB, and each side writes about 1 GB from it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = REPO_ROOT / "src"

GOAL_TIME_RATIO = 3.0
GOAL_MEMORY_RATIO = 5.0
GOAL_MEMORY_GROWTH = 1.5

SESSION_GAP = timedelta(minutes=120)
MAX_CONTEXT = 10
VALIDATION_FRACTION = 0.02

# --------------------------------------------------------------------------------------
# Synthetic Telegram Desktop export
# --------------------------------------------------------------------------------------

CHAT_NAME = "Bench group"
CHAT_TYPE = "private_supergroup"
CHAT_ID = 4242
NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"
# "date" is local time; the export machine's zone is fixed here so the file does not
# depend on the zone of the machine that runs the benchmark.
EXPORT_TZ = timezone(timedelta(hours=3))
START = datetime(2013, 9, 1, 9, 0, 0, tzinfo=UTC)

SENDERS = [
    ("Alice Johnson", "user100000001"),
    ("Борис Петров", "user100000002"),
    ("Carol", "user100000003"),
    ("Dmitri K", "user100000004"),
    ("Eve", "user100000005"),
    ("Frank Müller", "user100000006"),
    ("Grace Hopper", "user100000007"),
    ("Hiro", "user100000008"),
    ("Inès", "user100000009"),
    ("Jamal", "user100000010"),
    ("Kate 🌸", "user100000011"),
    ("Leo", "user100000012"),
]
SENDER_CUM_WEIGHTS = list(
    itertools.accumulate(1.0 / (rank + 1) ** 1.1 for rank in range(len(SENDERS)))
)

_VOCABULARY_TEXT = """
the a to and i you it is that of in for on this we what no yes so just do be not
have ok okay lol was are with me my but can all like at how if get they about will
one now know think there out up time go going good when then here see well really
yeah sure right now today tomorrow yesterday tonight later soon again still maybe
probably actually thanks thank please sorry hello hi hey bye morning night week
weekend work home meeting call later lunch dinner coffee beer pizza movie game
play watch read write send sent check look looks nice great cool awesome bad
problem fix fixed bug code server deploy build test tests release branch merge
review commit push pull issue ticket deadline friday monday price money pay buy
car train bus flight hotel trip city weather rain sunny cold hot snow photo
picture video link file doc email phone new old big small long short first last
next every other same different why who where which because though anyway btw
imo idk tbh omg haha hahaha ахах привет спасибо да нет ок хорошо завтра сегодня
сейчас потом ладно конечно может давай пока норм круто 👍 😂 🔥 🙂 ❤️ 🤔 😅
"""
VOCABULARY = list(dict.fromkeys(_VOCABULARY_TEXT.split()))
VOCAB_CUM_WEIGHTS = list(
    itertools.accumulate(1.0 / (rank + 1) ** 0.9 for rank in range(len(VOCABULARY)))
)
LINK_URLS = [
    "https://example.com",
    "https://example.com/docs/getting-started",
    "https://github.com/example/project/pull/1234",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://en.wikipedia.org/wiki/Telegram_(software)",
]
STICKER_EMOJI = ["😂", "👍", "❤️", "😭", "🔥", "🤔"]


def _words(rng: random.Random) -> list[str]:
    """1..30 words, log-normal around a median of 8."""
    n = round(math.exp(rng.gauss(2.0794, 0.75)))  # ln 8
    n = min(30, max(1, n))
    return rng.choices(VOCABULARY, cum_weights=VOCAB_CUM_WEIGHTS, k=n)


def _formatted_text(rng: random.Random, words: list[str]) -> tuple[list, list]:
    """A Telegram "text" list (plain strings between entity objects) and its text_entities.

    The words are cut into chunks that alternate plain, entity, plain, ...; plain runs
    carry the spaces around the entities, as in a real export.
    """
    parts: list = []
    entities: list = []
    pieces = max(1, len(words) // 4)
    cut = sorted(rng.sample(range(1, len(words)), min(pieces, len(words) - 1)))
    bounds = [0, *cut, len(words)]
    chunks = len(bounds) - 1
    for i in range(chunks):
        chunk = " ".join(words[bounds[i] : bounds[i + 1]])
        if i % 2 == 0:
            plain = (" " if i else "") + chunk + (" " if i + 1 < chunks else "")
            parts.append(plain)
            entities.append({"type": "plain", "text": plain})
            continue
        kind = rng.random()
        if kind < 0.5:
            ent = {"type": "link", "text": rng.choice(LINK_URLS)}
        elif kind < 0.65:
            ent = {"type": "bold", "text": chunk}
        elif kind < 0.75:
            ent = {"type": "italic", "text": chunk}
        elif kind < 0.85:
            name = SENDERS[rng.randrange(len(SENDERS))][0].split()[0].lower()
            ent = {"type": "mention", "text": "@" + name}
        elif kind < 0.95:
            ent = {"type": "text_link", "text": chunk, "href": rng.choice(LINK_URLS)}
        else:
            ent = {"type": "code", "text": chunk}
        parts.append(ent)
        entities.append(dict(ent))
    return parts, entities


def _gap_seconds(rng: random.Random) -> int:
    """Seconds to the next message: a burst, a pause of minutes, or (2.5%) hours.

    Sessions split at 120 minutes then hold about 40 messages, and 1M messages span
    about 12 years (2013-2025).
    """
    r = rng.random()
    if r < 0.725:
        return 1 + int(rng.expovariate(1 / 25))
    if r < 0.975:
        return min(100 * 60, 30 + int(rng.expovariate(1 / 240)))
    return int(rng.uniform(2.1, 4.5) * 3600)


def _date_fields(ts: int) -> dict:
    local = datetime.fromtimestamp(ts, EXPORT_TZ)
    return {"date": local.strftime("%Y-%m-%dT%H:%M:%S"), "date_unixtime": str(ts)}


def iter_messages(n: int, seed: int = 0):
    """Yield n Telegram Desktop message dicts, deterministically for a given seed."""
    rng = random.Random(seed)
    ts = int(START.timestamp())
    for msg_id in range(1, n + 1):
        ts += _gap_seconds(rng)
        name, from_id = rng.choices(SENDERS, cum_weights=SENDER_CUM_WEIGHTS)[0]
        kind = rng.random()
        msg: dict = {"id": msg_id}
        if kind < 0.03:
            msg["type"] = "service"
            msg.update(_date_fields(ts))
            msg["actor"] = name
            msg["actor_id"] = from_id
            msg["action"] = "pin_message"
            msg["message_id"] = max(1, msg_id - rng.randint(1, 50))
            msg["text"] = ""
            msg["text_entities"] = []
            yield msg
            continue
        msg["type"] = "message"
        msg.update(_date_fields(ts))
        if rng.random() < 0.04:
            edited = ts + rng.randint(5, 600)
            msg["edited"] = datetime.fromtimestamp(edited, EXPORT_TZ).strftime("%Y-%m-%dT%H:%M:%S")
            msg["edited_unixtime"] = str(edited)
        msg["from"] = name
        msg["from_id"] = from_id
        if msg_id > 1 and rng.random() < 0.07:
            msg["reply_to_message_id"] = max(1, msg_id - 1 - int(rng.expovariate(1 / 4)))
        if kind < 0.06:
            msg["photo"] = NOT_INCLUDED
            msg["photo_file_size"] = rng.randint(40_000, 300_000)
            msg["width"] = 1280
            msg["height"] = 720
            msg["text"] = ""
            msg["text_entities"] = []
        elif kind < 0.07:
            msg["file"] = NOT_INCLUDED
            msg["file_name"] = "sticker.webp"
            msg["file_size"] = rng.randint(10_000, 60_000)
            msg["thumbnail"] = NOT_INCLUDED
            msg["thumbnail_file_size"] = rng.randint(2_000, 9_000)
            msg["media_type"] = "sticker"
            msg["sticker_emoji"] = rng.choice(STICKER_EMOJI)
            msg["width"] = 512
            msg["height"] = 512
            msg["text"] = ""
            msg["text_entities"] = []
        else:
            words = _words(rng)
            if kind < 0.17 and len(words) >= 2:
                msg["text"], msg["text_entities"] = _formatted_text(rng, words)
            else:
                text = " ".join(words)
                msg["text"] = text
                msg["text_entities"] = [{"type": "plain", "text": text}]
        yield msg


def write_export(path: Path, n: int, seed: int = 0) -> int:
    """Stream a Telegram Desktop ``result.json`` of n messages to path; return its size."""
    dumps = json.JSONEncoder(ensure_ascii=False, indent=1).encode
    with path.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
        f.write("{\n")
        f.write(f' "name": {json.dumps(CHAT_NAME)},\n')
        f.write(f' "type": {json.dumps(CHAT_TYPE)},\n')
        f.write(f' "id": {CHAT_ID},\n')
        f.write(' "messages": [')
        sep = "\n  "
        for msg in iter_messages(n, seed):
            f.write(sep)
            f.write(dumps(msg).replace("\n", "\n  "))
            sep = ",\n  "
        f.write("\n ]\n}\n" if n else "]\n}\n")
    return path.stat().st_size


# --------------------------------------------------------------------------------------
# Comparator: the approach of the reference blog post
# --------------------------------------------------------------------------------------


def _flatten(text) -> str:
    if isinstance(text, list):
        return "".join(part if isinstance(part, str) else part.get("text", "") for part in text)
    return text if isinstance(text, str) else ""


def run_comparator(result_json: Path, outdir: Path) -> None:
    """json.load + pandas + a Python session loop; writes the same files twinchat does."""
    import pandas as pd

    with open(result_json, encoding="utf-8") as f:
        data = json.load(f)
    chat = data.get("name") or str(data.get("id"))

    df = pd.DataFrame(data["messages"], columns=["id", "date", "from", "text", "type"])
    df["text"] = df["text"].apply(_flatten).str.strip()
    df = df[(df["type"] == "message") & (df["text"] != "")]
    df["date"] = pd.to_datetime(df["date"])
    df = df.sort_values("date", kind="stable").rename(columns={"from": "speaker"})

    messages = []
    examples = []
    session = -1
    history: list[dict] = []
    previous = None
    for row in df.itertuples(index=False):
        date = row.date
        if previous is None or date - previous > SESSION_GAP:
            session += 1
            history = []
        previous = date
        speaker = row.speaker if isinstance(row.speaker, str) else ""
        timestamp = date.isoformat()
        messages.append(
            {
                "id": int(row.id),
                "chat": chat,
                "session": session,
                "timestamp": timestamp,
                "speaker": speaker,
                "text": row.text,
            }
        )
        if history:
            examples.append(
                {
                    "id": int(row.id),
                    "chat": chat,
                    "session": session,
                    "timestamp": timestamp,
                    "speaker": speaker,
                    "context": [
                        {"sender": m["speaker"], "text": m["text"]} for m in history[-MAX_CONTEXT:]
                    ],
                    "text": row.text,
                }
            )
        history.append(messages[-1])

    n_validation = math.ceil(len(examples) * VALIDATION_FRACTION) if examples else 0
    split = len(examples) - n_validation
    outdir.mkdir(parents=True, exist_ok=True)
    for name, rows in (
        ("messages.jsonl", messages),
        ("train.jsonl", examples[:split]),
        ("validation.jsonl", examples[split:]),
    ):
        with open(outdir / name, "w", encoding="utf-8") as f:
            for obj in rows:
                f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    with open(outdir / "stats.json", "w", encoding="utf-8") as f:
        json.dump(
            {
                "messages": len(messages),
                "sessions": session + 1,
                "train": split,
                "validation": n_validation,
            },
            f,
            indent=2,
        )


# --------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    peak_mib: float
    returncode: int
    examples: int | None
    log: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _count_lines(path: Path) -> int | None:
    if not path.is_file():
        return None
    count = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def measure(cmd: list[str], outdir: Path, log_path: Path) -> Run:
    """Run cmd in a child process; wall time and the child's own peak RSS via os.wait4."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONHASHSEED", "0")
    with log_path.open("wb") as logf:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak_kib = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss
    examples = None
    if proc.returncode == 0:
        counts = [_count_lines(outdir / n) for n in ("train.jsonl", "validation.jsonl")]
        if all(c is not None for c in counts):
            examples = sum(counts)
    return Run(wall, peak_kib / 1024, proc.returncode, examples, log_path)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _fmt_ratio(value: float | None, goal: float, *, at_most: bool = False) -> str:
    if value is None:
        return "n/a"
    met = value <= goal if at_most else value >= goal
    sign = "<=" if at_most else ">="
    return f"{value:6.2f}x  (goal {sign} {goal:g}x: {'met' if met else 'MISSED'})"


def _parse_size(text: str) -> int:
    t = text.strip().lower().replace("_", "")
    mult = 1
    if t.endswith("k"):
        t, mult = t[:-1], 1_000
    elif t.endswith("m"):
        t, mult = t[:-1], 1_000_000
    value = int(float(t) * mult)
    if value < 1:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return value


def bench(sizes: list[int], workdir: Path, keep: bool, seed: int) -> int:
    results: list[tuple[int, int, Run, Run]] = []
    for n in sizes:
        size_dir = workdir / f"n{n}"
        size_dir.mkdir(parents=True, exist_ok=True)
        export = size_dir / "result.json"
        log(f"N={n}: writing {export}")
        t0 = time.perf_counter()
        nbytes = write_export(export, n, seed)
        log(f"N={n}: wrote {nbytes / 2**20:.1f} MiB in {time.perf_counter() - t0:.1f}s")

        tc_out = size_dir / "twinchat"
        log(f"N={n}: running twinchat prepare")
        tc = measure(
            [sys.executable, "-m", "twinchat", "prepare", str(export), "-o", str(tc_out)],
            tc_out,
            size_dir / "twinchat.log",
        )
        if not tc.ok:
            log(f"N={n}: twinchat exited with {tc.returncode}; log tail:\n{_tail(tc.log)}")
        log(f"N={n}: twinchat {tc.wall_s:.1f}s, {tc.peak_mib:.0f} MiB")

        cmp_out = size_dir / "comparator"
        log(f"N={n}: running comparator (json.load + pandas)")
        script = str(Path(__file__).resolve())
        cmp_run = measure(
            [sys.executable, script, "--comparator", str(export), str(cmp_out)],
            cmp_out,
            size_dir / "comparator.log",
        )
        if not cmp_run.ok:
            log(f"N={n}: comparator exited with {cmp_run.returncode}; log tail:")
            log(_tail(cmp_run.log))
        log(f"N={n}: comparator {cmp_run.wall_s:.1f}s, {cmp_run.peak_mib:.0f} MiB")
        results.append((n, nbytes, tc, cmp_run))

        if not keep:
            shutil.rmtree(size_dir, ignore_errors=True)

    print_report(results)
    return 0 if all(tc.ok and cm.ok for _, _, tc, cm in results) else 1


def print_report(results: list[tuple[int, int, Run, Run]]) -> None:
    def cell(run: Run, value: str) -> str:
        return value if run.ok else f"FAILED (exit {run.returncode})"

    out = sys.stdout
    print(file=out)
    print("twinchat prepare vs json.load + pandas comparator", file=out)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {sys.platform}", file=out)
    for n, nbytes, tc, cm in results:
        print(file=out)
        print(f"N = {n:,} messages ({nbytes / 2**20:.1f} MiB result.json)", file=out)
        print(f"  {'':<12}{'wall s':>10}{'peak MiB':>11}{'examples':>12}", file=out)
        for label, run in (("twinchat", tc), ("comparator", cm)):
            ex = f"{run.examples:,}" if run.examples is not None else "?"
            row = f"{run.wall_s:>10.2f}{run.peak_mib:>11.1f}{ex:>12}"
            print(f"  {label:<12}{cell(run, row)}", file=out)
        both = tc.ok and cm.ok
        t_ratio = cm.wall_s / tc.wall_s if both and tc.wall_s > 0 else None
        m_ratio = cm.peak_mib / tc.peak_mib if both and tc.peak_mib > 0 else None
        print(
            f"  time ratio   (comparator/twinchat): {_fmt_ratio(t_ratio, GOAL_TIME_RATIO)}",
            file=out,
        )
        print(
            f"  memory ratio (comparator/twinchat): {_fmt_ratio(m_ratio, GOAL_MEMORY_RATIO)}",
            file=out,
        )
        if both and tc.examples and cm.examples:
            print(f"  examples twinchat/comparator: {tc.examples / cm.examples:.3f}", file=out)
    if len(results) >= 2:
        small = min(results, key=lambda r: r[0])
        large = max(results, key=lambda r: r[0])
        growth = None
        if small[2].ok and large[2].ok and small[2].peak_mib > 0:
            growth = large[2].peak_mib / small[2].peak_mib
        print(file=out)
        print(
            f"twinchat memory growth {large[0]:,} vs {small[0]:,} messages: "
            + _fmt_ratio(growth, GOAL_MEMORY_GROWTH, at_most=True),
            file=out,
        )
    out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark `twinchat prepare` against a json.load + pandas baseline.",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=_parse_size,
        default=[200_000, 1_000_000],
        metavar="N",
        help="numbers of messages to generate (default: 200000 1000000; 200k/1M also work)",
    )
    parser.add_argument("--workdir", type=Path, help="where to write (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument(
        "--comparator",
        nargs=2,
        metavar=("RESULT_JSON", "OUTDIR"),
        type=Path,
        help="internal: run only the comparator on RESULT_JSON, writing into OUTDIR",
    )
    parser.add_argument(
        "--generate",
        nargs=2,
        metavar=("N", "RESULT_JSON"),
        help="only write a synthetic export of N messages to RESULT_JSON",
    )
    args = parser.parse_args(argv)

    if args.comparator:
        run_comparator(*args.comparator)
        return 0
    if args.generate:
        n, path = _parse_size(args.generate[0]), Path(args.generate[1])
        size = write_export(path, n, args.seed)
        log(f"wrote {n:,} messages, {size / 2**20:.1f} MiB, to {path}")
        return 0

    if args.workdir is not None:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        cleanup = False
    else:
        workdir = Path(tempfile.mkdtemp(prefix="twinchat-bench-"))
        cleanup = not args.keep
    log(f"work folder: {workdir}")
    try:
        return bench(args.sizes, workdir, keep=args.keep, seed=args.seed)
    finally:
        if cleanup:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep:
            log(f"kept files in {workdir}")


if __name__ == "__main__":
    sys.exit(main())
