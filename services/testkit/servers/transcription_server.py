#!/usr/bin/env python3
"""An OpenAI-compatible speech-to-text server for Percolate's tests.

It speaks `POST /v1/audio/transcriptions` (multipart/form-data in,
`verbose_json` out) and really transcribes: the WAV it receives goes to
Debian's `pocketsphinx_continuous`, whose timed words become the answer's
segments. Every request is appended as one JSON line to `--record`, so a
test can check what the client sent.

    transcription_server.py --api-key KEY --record FILE [--mode MODE]

MODE: `ok` (default), `error500`, `malformed` (invalid JSON), `slow`
(answers after 30 s). The first line on stdout is
`transcription server listening on http://127.0.0.1:PORT/v1`.
"""

import argparse
import email.parser
import email.policy
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_DIR = "/usr/share/pocketsphinx/model/en-us"
PAUSE_S = 0.5


def parse_form(content_type, body):
    """Fields and files of a multipart/form-data body."""
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    fields, files = {}, {}
    if not message.is_multipart():
        raise ValueError("not multipart/form-data")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[name] = (part.get_filename(), part.get_content_type(), payload)
        else:
            fields.setdefault(name, []).append(payload.decode())
    return fields, files


def wav_format(data):
    """(rate, channels, bits, pcm bytes) of a PCM WAV file."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    at, fmt, pcm = 12, None, None
    while at + 8 <= len(data):
        chunk, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        body = data[at + 8:at + 8 + size]
        if chunk == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            fmt = (rate, channels, bits)
        elif chunk == b"data":
            pcm = body
        at += 8 + size + (size % 2)
    if fmt is None or pcm is None:
        raise ValueError("WAV without fmt or data")
    return fmt + (pcm,)


def recognise(pcm, rate):
    """Timed segments of 16-bit mono PCM, by PocketSphinx."""
    with tempfile.TemporaryDirectory() as work:
        raw = os.path.join(work, "audio.raw")
        with open(raw, "wb") as f:
            f.write(pcm)
        out = subprocess.run(
            ["pocketsphinx_continuous", "-infile", raw, "-hmm", f"{MODEL_DIR}/en-us",
             "-lm", f"{MODEL_DIR}/en-us.lm.bin", "-dict", f"{MODEL_DIR}/cmudict-en-us.dict",
             "-samprate", str(rate), "-time", "yes"],
            capture_output=True, text=True, timeout=300, check=True).stdout
    words = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) != 4 or fields[0][0] in "<[+":
            continue
        try:
            start, end = float(fields[1]), float(fields[2])
        except ValueError:
            continue
        words.append((fields[0].split("(")[0], start, end))
    segments = []
    for word, start, end in words:
        if segments and start - segments[-1]["end"] <= PAUSE_S:
            segments[-1]["text"] += " " + word
            segments[-1]["end"] = end
        else:
            segments.append({"id": len(segments), "start": start, "end": end, "text": " " + word})
    return segments


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, payload):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/audio/transcriptions":
            return self.answer(404, {"error": {"message": f"no route {self.path}"}})
        record = {"authorization": self.headers.get("Authorization"), "content_type": self.headers.get("Content-Type")}
        try:
            fields, files = parse_form(self.headers.get("Content-Type", ""), body)
            name, mime, data = files["file"]
            rate, channels, bits, pcm = wav_format(data)
        except (KeyError, ValueError) as e:
            return self.answer(400, {"error": {"message": f"bad request: {e}"}})
        record.update({"fields": fields, "file_name": name, "file_type": mime, "rate": rate,
                       "channels": channels, "bits": bits, "seconds": len(pcm) / (2 * rate)})
        with LOCK:
            with open(ARGS.record, "a") as f:
                f.write(json.dumps(record) + "\n")
        if record["authorization"] != f"Bearer {ARGS.api_key}":
            return self.answer(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
        if ARGS.mode == "error500":
            return self.answer(500, {"error": {"message": "the model crashed"}})
        if ARGS.mode == "malformed":
            return self.answer(200, b"{\"text\": \"unterminated")
        if ARGS.mode == "slow":
            time.sleep(30)
        segments = recognise(pcm, rate) if channels == 1 and bits == 16 else []
        self.answer(200, {"task": "transcribe", "language": "english", "duration": len(pcm) / (2 * rate),
                          "text": "".join(s["text"] for s in segments).strip(), "segments": segments})


LOCK = threading.Lock()
ARGS = None

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--mode", default="ok", choices=["ok", "error500", "malformed", "slow"])
    ARGS = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"transcription server listening on http://127.0.0.1:{server.server_port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)
