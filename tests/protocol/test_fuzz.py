"""The decoder never lets anything but its own ``ProtocolError`` escape: a short run of
``bench.fuzz``'s Hypothesis strategies (the benchmark runs 100,000 cases)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from napari_engine.bench.fuzz import check_decoder, check_text, messages
from napari_engine.protocol import ProtocolError, decode_text


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(messages())
def test_only_protocol_errors_come_out_of_the_decoder(message: Any) -> None:
    assert check_decoder(message) is None


def test_the_cases_the_attacker_found() -> None:
    """Text no JSON encoder makes from an object: refused as the protocol refuses."""
    for text in ('{"type":"command","id":1,"op":"camera.set","args":{"zoom":'
                 + "9" * 400 + "}}",
                 '{"type":"command","id":1,"op":"camera.set","args":{"zoom":'
                 + str(2**63) + "}}",
                 "[" * 100_000 + "]" * 100_000):
        assert check_text(text) is None
        with pytest.raises(ProtocolError):  # refused, not parsed
            decode_text(text)
