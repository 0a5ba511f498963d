#!/usr/bin/env python3
"""An OpenAI-compatible chat-completions server for Percolate's tests.

It speaks `POST /v1/chat/completions` with `"stream": true` (server-sent
events, `data: {chunk}` lines ending with `data: [DONE]`). Its answer is
built from what it was sent, so a test can tell the context reached it: it
quotes the first words of context item `[1]` of the system message. Every
request is appended as one JSON line to `--record` (headers, body and the
answer's pieces as sent).

    chat_server.py --api-key KEY --record FILE

The requested model picks the behaviour:
  any other name  stream the answer token by token
  fail-500        HTTP 500 with an OpenAI error body
  unknown-model   HTTP 404 with an OpenAI error body
  stall           one piece, then nothing for 30 s
  slow-start      nothing for 30 s
  garbage         one piece, then an event that is not JSON
  cut             two pieces, then the connection closes without [DONE]
A wrong or missing key gets HTTP 401. The first line on stdout is
`chat server listening on http://127.0.0.1:PORT/v1`.
"""

import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


def answer_pieces(messages):
    """The answer: the first eight words of context item [1], quoted."""
    system = "\n".join(m.get("content", "") for m in messages if m.get("role") == "system")
    found = re.search(r"^\[1\] [^\n]*\n(.*)$", system, re.MULTILINE)
    if found:
        words = found.group(1).split()[:8]
        text = "From your memory [1]: " + " ".join(words) + "."
    else:
        text = "I could not find that in your memory."
    # Word by word, keeping the spaces, like a tokenizer would.
    return re.findall(r"\S+\s*", text)


def chunk(model, content=None, finish=None):
    delta = {} if content is None else {"content": content}
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return ("data: " + json.dumps(body) + "\n\n").encode()


class Handler(BaseHTTPRequestHandler):
    api_key = ""
    record = ""

    def log_message(self, *args):
        pass

    def send_error_body(self, status, message, kind):
        body = json.dumps({"error": {"message": message, "type": kind}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"unparsed": raw.decode(errors="replace")}
        model = body.get("model", "")
        pieces = answer_pieces(body.get("messages", []))
        entry = {
            "path": self.path,
            "authorization": self.headers.get("Authorization", ""),
            "content_type": self.headers.get("Content-Type", ""),
            "body": body,
            "answer": pieces,
        }
        with LOCK, open(self.record, "a") as out:
            out.write(json.dumps(entry) + "\n")
        if self.path != "/v1/chat/completions":
            return self.send_error_body(404, "no such path", "invalid_request_error")
        if self.headers.get("Authorization", "") != "Bearer " + self.api_key:
            return self.send_error_body(401, "Incorrect API key provided", "invalid_request_error")
        if model == "fail-500":
            return self.send_error_body(500, "The server had an error while processing your request", "server_error")
        if model == "unknown-model":
            return self.send_error_body(404, "The model `unknown-model` does not exist", "invalid_request_error")
        if model == "slow-start":
            time.sleep(30)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            self.wfile.write(chunk(model, None))
            for i, piece in enumerate(pieces):
                self.wfile.write(chunk(model, piece))
                self.wfile.flush()
                if model == "stall" and i == 0:
                    time.sleep(30)
                if model == "garbage" and i == 0:
                    self.wfile.write(b"data: {this is not json\n\n")
                    self.wfile.flush()
                    return
                if model == "cut" and i == 1:
                    return
                time.sleep(0.01)
            self.wfile.write(chunk(model, None, "stop"))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--record", required=True)
    args = parser.parse_args()
    Handler.api_key = args.api_key
    Handler.record = args.record
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"chat server listening on http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
