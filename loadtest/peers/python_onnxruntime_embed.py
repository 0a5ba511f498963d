#!/usr/bin/env python3
"""Peer for the embedding benchmark: the same model files, batch size, token
limit and thread count, run by Python's onnxruntime + tokenizers directly (no
database, no gRPC). Prints chunks/s for 1024 chunks of 40 words.

    pip install onnxruntime==1.32.0 tokenizers numpy && python3 loadtest/peers/python_onnxruntime_embed.py
"""
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


def main() -> None:
    rng = random.Random(42)
    texts = [" ".join(rng.choice(WORDS) for _ in range(40)) for _ in range(1024)]
    tokenizer = Tokenizer.from_file(str(MODELS / "all-minilm-l6-v2-tokenizer.json"))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.enable_padding()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    session = onnxruntime.InferenceSession(str(MODELS / "all-minilm-l6-v2-int8.onnx"), options, providers=["CPUExecutionProvider"])
    started = time.perf_counter()
    for start in range(0, len(texts), 32):
        encodings = tokenizer.encode_batch(texts[start:start + 32])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    elapsed = time.perf_counter() - started
    print(f"python onnxruntime: {len(texts) / elapsed:.0f} chunks/s ({elapsed:.2f} s for {len(texts)} chunks)")


if __name__ == "__main__":
    main()
