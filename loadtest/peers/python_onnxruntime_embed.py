#!/usr/bin/env python3
"""Peer for the embedding benchmarks: the same model files, token limit,
padding, pooling and thread count as percolate-embedder, run by Python's
onnxruntime + tokenizers + numpy directly (no database, no gRPC).

With --input FILE (one text per line; `percolate-bench embed` writes it and
runs this script) it embeds the first --count lines in batches of --batch,
after embedding the first --warmup lines the same way (not timed), and
prints one machine-readable line:

    sentences_per_second=123.4 sentences=1024 batch=32 seconds=8.3

Without --input it runs the older benchmark: 1024 chunks of 40 random
keywords in batches of 32, printing chunks/s.

    pip install onnxruntime==1.32.0 tokenizers numpy
    python3 loadtest/peers/python_onnxruntime_embed.py --input sentences.txt --batch 32
"""
import argparse
import os
import pathlib
import random
import time

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

MODELS = pathlib.Path(os.environ.get("PERCOLATE_MODEL_DIR", pathlib.Path.home() / ".cache/percolate/models"))
WORDS = ("memory agent database vector tenant graph moment search invoice customer meeting project deadline report "
         "revenue engineer release incident design budget contract travel policy support").split()
LEVELS = {
    "disable": onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "layout": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_LAYOUT,
    "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def load(args):
    tokenizer = Tokenizer.from_file(str(args.tokenizer))
    tokenizer.enable_truncation(max_length=args.max_tokens)
    tokenizer.enable_padding()  # to the longest text of each batch
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.graph_optimization_level = LEVELS[args.optimization]
    session = onnxruntime.InferenceSession(str(args.model), options, providers=["CPUExecutionProvider"])
    return tokenizer, session


def embed(tokenizer, session, texts):
    """Unit-length mean-pooled embeddings of one batch."""
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    types = np.array([e.type_ids for e in encodings], dtype=np.int64)
    hidden = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
    pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def run_batches(tokenizer, session, texts, batch):
    for start in range(0, len(texts), batch):
        embed(tokenizer, session, texts[start:start + batch])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=pathlib.Path, help="texts to embed, one per line")
    parser.add_argument("--batch", type=int, default=32, help="texts per model call")
    parser.add_argument("--count", type=int, default=0, help="texts measured (default: every line)")
    parser.add_argument("--warmup", type=int, default=32, help="texts embedded before timing")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--max-tokens", type=int, default=256, help="truncation, in tokens")
    parser.add_argument("--optimization", choices=sorted(LEVELS), default="all", help="graph optimisation level")
    parser.add_argument("--model", type=pathlib.Path, default=MODELS / "all-minilm-l6-v2-int8.onnx")
    parser.add_argument("--tokenizer", type=pathlib.Path, default=MODELS / "all-minilm-l6-v2-tokenizer.json")
    args = parser.parse_args()
    tokenizer, session = load(args)

    if args.input is None:
        rng = random.Random(42)
        texts = [" ".join(rng.choice(WORDS) for _ in range(40)) for _ in range(1024)]
        started = time.perf_counter()
        run_batches(tokenizer, session, texts, 32)
        elapsed = time.perf_counter() - started
        print(f"python onnxruntime: {len(texts) / elapsed:.0f} chunks/s ({elapsed:.2f} s for {len(texts)} chunks)")
        return

    lines = [line for line in args.input.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = lines[:args.count] if args.count > 0 else lines
    run_batches(tokenizer, session, lines[:args.warmup], args.batch)
    started = time.perf_counter()
    run_batches(tokenizer, session, texts, args.batch)
    elapsed = time.perf_counter() - started
    print(f"sentences_per_second={len(texts) / elapsed:.1f} sentences={len(texts)} batch={args.batch} seconds={elapsed:.3f}")


if __name__ == "__main__":
    main()
