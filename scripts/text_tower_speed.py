"""CPU time per distinct text query of several ONNX text towers, on one thread, asked in turn (interleaved rounds).

    PYTHONPATH=src python scripts/text_tower_speed.py NAME=FILE [NAME=FILE ...] [--queries 50] [--rounds 12]

Each FILE is a text tower (`text.onnx`, `text.int8-u8o.onnx` of an export folder) taking CLIP tokens trimmed to
the query's length, as `search` and `serve` run it: one intra-op thread, spinning off. Every round runs each
tower on the same queries, the towers in alternating order, so a shared machine's load falls on each alike. Two
query sets: the ones `scripts/serve_round_robin.py` asks ("a photo of a NOUN number N", 11-13 tokens) and
single nouns (3-4 tokens). Prints JSON: per tower and set, the process CPU time (user+sys) per query, and the
node count of ONNX Runtime's optimised graph; the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from viewfinder.bench.embed import NOUNS
from viewfinder.models.tokenizer import clip_tokenizer, open_clip_vocab


def session(path: str, optimised: Path) -> ort.InferenceSession:
    ort.set_default_logger_severity(3)  # not the warning that an optimised graph is for this machine only
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.optimized_model_filepath = str(optimised)
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("towers", nargs="+", metavar="NAME=FILE")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    tokenizer = clip_tokenizer(open_clip_vocab())
    sets = {
        "sentence": [f"a photo of a {NOUNS[n % len(NOUNS)]} number {n}" for n in range(args.queries)],
        "noun": [NOUNS[n % len(NOUNS)] for n in range(args.queries)],
    }
    tokens = {name: [tokenizer([text], trim=True) for text in texts] for name, texts in sets.items()}
    sessions, nodes = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for given in args.towers:
            name, path = given.split("=", 1)
            optimised = Path(folder) / f"{len(sessions)}.onnx"
            sessions[name] = session(path, optimised)
            nodes[name] = len(onnx.load(str(optimised), load_external_data=False).graph.node)
    for tower in sessions.values():  # warm: first runs allocate
        for batch in tokens["sentence"][:10]:
            tower.run(None, {"tokens": batch})
    cpu = {(name, kind): 0.0 for name in sessions for kind in tokens}
    loads = [os.getloadavg()[0]]
    for number in range(args.rounds):
        order = list(sessions.items()) if number % 2 == 0 else list(sessions.items())[::-1]
        for kind, batches in tokens.items():
            for name, tower in order:
                began = time.process_time()
                for batch in batches:
                    tower.run(None, {"tokens": batch})
                cpu[name, kind] += time.process_time() - began
    loads.append(os.getloadavg()[0])
    runs = args.rounds * args.queries
    results = [
        {
            "name": name,
            "optimised_nodes": nodes[name],
            **{f"{kind}_cpu_ms": round(cpu[name, kind] * 1000 / runs, 2) for kind in tokens},
        }
        for name in sessions
    ]
    lengths = {kind: float(np.mean([batch.shape[1] for batch in batches])) for kind, batches in tokens.items()}
    print(json.dumps({"tokens_mean": lengths, "load": [round(x, 2) for x in loads], "results": results}, indent=1))


if __name__ == "__main__":
    main()
