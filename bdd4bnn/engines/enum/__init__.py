"""The enumeration engine: exact batched inference of every input (streaming), or a compiled
depth-first walk that counts whole subtrees whose class the bounds fix (:mod:`.subtree`)."""

from __future__ import annotations

from ...region import Region
from ..base import DEFAULT_OPTIONS, Capability, Engine, Prepared

__all__ = ["EnumEngine", "EnumPrepared"]


class EnumPrepared(Prepared):
    name = "enum"

    def counts(self, region=None, *, distances=None, progress=None):
        from .stream import enum_counts

        return enum_counts(
            self.model,
            self._inside(region),
            budget=self.budget,
            progress=progress,
            distances=distances,
        )

    def find(self, region, classes, *, distances=None, flip=()):
        from .stream import enum_find

        region = self._inside(region)
        if flip:  # re-centre on the forced flips: the rest is a smaller region
            forced = set(flip)
            if not forced <= set(region.free) or len(forced) > region.radius:
                return None
            center = region.center.copy()
            center[list(flip)] *= -1
            rest = [i for i in region.free if i not in forced]
            region = Region.fixed(center, rest, region.radius - len(forced))
            if distances is not None:
                distances = [k - len(forced) for k in distances if k >= len(forced)]
        return enum_find(self.model, region, classes, budget=self.budget, distances=distances)

    def weighted_counts(self, low, high):
        import math

        from .weighted import weighted_counts

        env = self.envelope  # fixed pixels weigh their value at the centre
        free = set(env.free)
        fixed = math.prod(
            int(high[i] if env.center[i] > 0 else low[i]) for i in range(env.n) if i not in free
        )
        return [fixed * v for v in weighted_counts(self.model, env, low, high, self.budget)]


class EnumEngine(Engine):
    name = "enum"
    capabilities = frozenset({Capability.COUNT, Capability.FIND, Capability.EXACT})
    summary = "exact enumeration: batched inference, or the compiled subtree-counting walk"

    def prepare(
        self, model, envelope, budget, options=DEFAULT_OPTIONS, progress=None
    ) -> EnumPrepared:
        return EnumPrepared(model, envelope, budget)
