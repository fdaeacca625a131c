"""Wall-clock times for a camera's packets, from their stream time and arrival. Pure.

A packet cannot arrive before it was captured, so ``arrival - stream time`` bounds the
offset between the two clocks from above, and the least-delayed packet gives the
tightest bound. The offset is therefore the running minimum of that difference. A
connection's first packets often arrive late (buffered, then a burst): anchoring on
the first packet alone kept that delay for the whole connection, so a segment could end
seconds after the next replica's first segment began. The minimum may also rise, by
``DRIFT`` seconds per second at most, so a camera whose clock runs slower than ours
(tens of ppm) is followed instead of falling behind until it jumps.

Stamps never go backwards (stream time does not, and each is at most its arrival),
and never lie in the future. Beyond ``jump_s`` either way (the camera's clock was
reset, its timestamps jumped, or packets arrive that late) the clock starts again on
the packet: ``stamp`` reports the jump so the recording starts a new segment after a
gap.
"""

from __future__ import annotations

# How fast the offset may rise, in seconds per second: 100 ppm, above the drift of a
# camera's clock (typically 20-50 ppm) and far below any delay worth following.
DRIFT = 1e-4


class StreamClock:
    def __init__(self, jump_s: float) -> None:
        self._jump_s = jump_s
        self._offset: float | None = None  # wall seconds at stream time 0
        self._arrived = 0.0

    def stamp(self, stream_s: float, arrival: float) -> tuple[float, bool]:
        """(wall seconds of the packet, whether the clock jumped before it)."""
        candidate = arrival - stream_s
        offset = self._offset
        jumped = False
        if offset is None:
            offset = candidate
        else:
            offset += DRIFT * max(0.0, arrival - self._arrived)
            if abs(candidate - offset) > self._jump_s:
                offset, jumped = candidate, True
            else:
                offset = min(offset, candidate)
        self._offset, self._arrived = offset, arrival
        return stream_s + offset, jumped
