"""Uploads (paths and file objects, progress, verification, idempotency) and
jobs (submit, get, list, cancel, watch, wait)."""

from __future__ import annotations

import hashlib
import io
import math
import uuid
from pathlib import Path
from typing import Any

import pytest

from percolate import DataLoss, DeadlineExceeded, FailedPrecondition, InvalidArgument, JobKind, JobState, NotFound

NOTES = b"""# Zebra field notes

The zebra herd crosses the Mara river every July, following the rains.

## Diet

Zebras graze on tall, coarse grasses that other grazers leave behind.
"""


def test_upload_path_wait_and_search(client: Any, tmp_path: Path) -> None:
    doc = tmp_path / "zebras.md"
    doc.write_bytes(NOTES)
    seen: list[tuple[int, int | None]] = []
    uploaded = client.upload(
        doc,
        tags=["field"],
        metadata={"source": "test"},
        chunk_size=64,
        progress=lambda sent, total: seen.append((sent, total)),
    )
    assert uploaded.size == len(NOTES) and uploaded.sha256 == hashlib.sha256(NOTES).hexdigest()
    assert uploaded.object_key.endswith("/zebras.md") and uploaded.upload_id
    assert seen[0] == (0, len(NOTES)) and seen[-1] == (len(NOTES), len(NOTES))
    assert len(seen) == 1 + math.ceil(len(NOTES) / 64) and seen == sorted(seen)

    job = client.wait_for_job(uploaded.job_id, timeout=30)
    assert job.state == JobState.SUCCEEDED and job.done and job.progress == 1.0, job
    assert job.kind == JobKind.INGEST_DOCUMENT and job.result is not None and job.result.resources >= 1
    assert job.request is not None and job.request.uri == "upload://zebras.md" and job.request.tags == ["field"]
    assert job.created_at and job.started_at and job.finished_at and job.created_at <= job.finished_at

    hit = client.search("when does the herd cross the river?", top_k=1).hits[0]
    assert hit.resource.uri == "upload://zebras.md" and "July" in hit.resource.content
    assert hit.resource.tags == ["field"] and hit.resource.metadata["source"] == "test"
    assert hit.resource.content_type == "text/markdown"

    assert client.get_job(uploaded.job_id).state == JobState.SUCCEEDED
    with pytest.raises(FailedPrecondition, match="already finished"):
        client.cancel_job(uploaded.job_id)
    assert [j.state for j in client.watch_job(uploaded.job_id)][-1] == JobState.SUCCEEDED
    assert uploaded.job_id in [j.id for j in client.iter_jobs(page_size=1)]
    assert [j.id for j in client.list_jobs(states=[JobState.SUCCEEDED]).items] == [uploaded.job_id]
    assert client.list_jobs(states=[JobState.FAILED]).items == []


def test_upload_file_objects(client: Any) -> None:
    with pytest.raises(InvalidArgument, match="file_name"):
        client.upload(io.BytesIO(NOTES))

    upload_id = f"fixed-{uuid.uuid4().hex}"
    first = client.upload(
        io.BytesIO(NOTES), file_name="notes.md", upload_id=upload_id, uri="doc://zebras", content_type="text/markdown"
    )
    again = client.upload(io.BytesIO(NOTES), file_name="notes.md", upload_id=upload_id, uri="doc://zebras")
    assert first.upload_id == again.upload_id == upload_id and first.job_id == again.job_id

    class Pipe:
        """A non-seekable reader: no size, no hash before sending."""

        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self._data.read(n)

    seen: list[tuple[int, int | None]] = []
    piped = client.upload(Pipe(NOTES), file_name="piped.txt", progress=lambda sent, total: seen.append((sent, total)))
    assert piped.size == len(NOTES) and seen[-1] == (len(NOTES), None)

    # A seekable file object is read from its current position.
    partial = io.BytesIO(b"IGNORED" + NOTES)
    partial.seek(7)
    assert client.upload(partial, file_name="partial.md").sha256 == hashlib.sha256(NOTES).hexdigest()
    assert client.wait_for_job(first.job_id, timeout=30).state == JobState.SUCCEEDED
    chunks = client.get_resources(uri="doc://zebras").items
    assert chunks and [r.chunk_ordinal for r in chunks] == list(range(len(chunks)))


def test_upload_read_error_is_raised_and_leaves_nothing(client: Any) -> None:
    class Broken:
        name = "broken.md"

        def __init__(self) -> None:
            self.reads = 0

        def read(self, n: int = -1) -> bytes:
            self.reads += 1
            if self.reads > 1:
                raise OSError("disk on fire")
            return b"# Half a file\n"

    with pytest.raises(OSError, match="disk on fire"):
        client.upload(Broken())
    assert client.list_jobs().items == []


def test_upload_refused_before_the_end(make_client: Any, server: Any) -> None:
    """The server answers before reading everything: its error is raised, nothing else."""
    client = make_client(server.target, "../bad")
    big = io.BytesIO(bytes(4 << 20))
    with pytest.raises(InvalidArgument, match="tenant id"):
        client.upload(big, file_name="big.bin", chunk_size=64 << 10, verify=False)


def test_upload_changed_file_is_refused(client: Any, tmp_path: Path) -> None:
    doc = tmp_path / "changing.md"
    doc.write_bytes(NOTES)

    def change_it(sent: int, total: int | None) -> None:
        if sent == 0:  # hashed already, not read yet: same size, other bytes
            doc.write_bytes(NOTES.upper())

    with pytest.raises(DataLoss, match="SHA-256"):
        client.upload(doc, progress=change_it)
    assert client.list_jobs().items == []


def test_jobs(client: Any) -> None:
    key = f"k-{uuid.uuid4().hex}"
    job = client.submit_job(
        "uploads/none/missing.md", uri="doc://missing", tags=["t"], metadata={"m": 1}, idempotency_key=key
    )
    assert job.kind == JobKind.INGEST_DOCUMENT and job.request is not None and job.request.idempotency_key == key
    assert client.submit_job("uploads/none/missing.md", uri="doc://missing", idempotency_key=key).id == job.id

    # The in-process worker may fail the job (its object is missing) before the cancel arrives.
    try:
        assert client.cancel_job(job.id).state == JobState.CANCELLED
    except FailedPrecondition as exc:
        assert "already finished" in exc.message
    final = client.wait_for_job(job.id, timeout=30)
    assert final.state in (JobState.CANCELLED, JobState.FAILED)
    if final.state == JobState.CANCELLED:
        assert client.cancel_job(job.id).state == JobState.CANCELLED  # cancelling again changes nothing

    failing = client.submit_job("uploads/none/other.md", uri="doc://other")
    failed = client.wait_for_job(failing.id, timeout=30)
    assert failed.state == JobState.FAILED and "does not exist" in failed.error

    with pytest.raises(FailedPrecondition, match="not a job"):
        client.submit_job("", kind=JobKind.EMBED_RESOURCES)
    with pytest.raises(InvalidArgument, match="needs a 'uri'"):
        client.submit_job("uploads/none/x.md")
    with pytest.raises(InvalidArgument, match="kind"):
        client.submit_job("uploads/x", kind=JobKind.UNSPECIFIED)
    with pytest.raises(InvalidArgument, match="not a UUID"):
        client.get_job("nope")
    with pytest.raises(NotFound):
        client.get_job(str(uuid.uuid4()))


def test_wait_for_job_times_out(client: Any) -> None:
    # About ten chunks to embed: the job runs for several hundred milliseconds.
    text = "\n\n".join(
        f"Paragraph {i}: the fox number {i} jumps over lazy dog {i * 7} in field {i % 13}. " * 3 for i in range(25)
    )
    uploaded = client.upload(io.BytesIO(text.encode()), file_name="long.txt")
    with pytest.raises(DeadlineExceeded, match=f"job {uploaded.job_id} did not finish within 0.05 s") as caught:
        client.wait_for_job(uploaded.job_id, timeout=0.05)
    assert caught.value.code.name == "DEADLINE_EXCEEDED"
    assert client.wait_for_job(uploaded.job_id, timeout=60).state == JobState.SUCCEEDED
