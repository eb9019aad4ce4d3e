"""Clients' reads of layer data run off the engine thread, a few per client at once."""

from __future__ import annotations

import queue
import threading

import pytest

from napari_engine.protocol.errors import ErrorCode, ProtocolError
from napari_engine.protocol.server_messages import DataReply, ErrorMessage
from napari_engine.server.jobs import ReadDone
from napari_engine.server.reads import MAX_READS, BackgroundReads


def test_reads_answer_later_and_a_client_has_only_a_few_under_way() -> None:
    answers: queue.SimpleQueue[ReadDone] = queue.SimpleQueue()
    reads = BackgroundReads(answers.put)
    gate = threading.Event()

    def held(request_id: int) -> DataReply:
        gate.wait(30)
        return DataReply(request_id, (1,), "uint8", -1, b"\x07")

    try:
        for request_id in range(MAX_READS):
            reads.start("s", 1, request_id, lambda i=request_id: held(i))
        with pytest.raises(ProtocolError, match="under way"):
            reads.start("s", 1, 99, lambda: held(99))
        reads.start("s", 2, 50, lambda: held(50))  # another client's own
        gate.set()
        done = [answers.get(timeout=30) for _ in range(MAX_READS + 1)]
        assert sorted(job.reply.id for job in done) == [0, 1, 2, 3, 50]  # type: ignore[union-attr]
        for job in done:
            reads.done(job)
        reads.start("s", 1, 5, lambda: held(5))  # room again

        def failing() -> DataReply:
            raise OSError("the store went away")
        assert answers.get(timeout=30).reply.id == 5  # type: ignore[union-attr]
        reads.start("s", 1, 6, failing)
        error = answers.get(timeout=30).reply
        assert isinstance(error, ErrorMessage) and error.id == 6
        assert error.code == ErrorCode.FAILED and "the store went away" in error.message
    finally:
        gate.set()
        reads.close()
