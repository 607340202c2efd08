"""Restart delays for a feed that died: exponential, capped, with seeded jitter."""

import random


class Backoff:
    """``initial * 2**n`` seconds after the n-th failure in a row, capped at ``cap``, each
    delay scaled by a random factor in ``[1 - jitter, 1]`` so that many feeds failing at
    once (a network outage) do not all reconnect in the same instant."""

    def __init__(
        self, initial_s: float, cap_s: float, *, jitter: float = 0.5, rng: random.Random | None = None
    ) -> None:
        self.initial_s = initial_s
        self.cap_s = cap_s
        self.jitter = jitter
        self.rng = rng if rng is not None else random.Random()
        self.failures = 0
        """Failures since the last healthy session."""

    def next_delay(self) -> float:
        """The wait before the next attempt; counts one more failure."""
        base = min(self.cap_s, self.initial_s * 2.0 ** min(self.failures, 32))
        self.failures += 1
        return base * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        """The feed delivered data again: the next failure starts from ``initial_s``."""
        self.failures = 0
