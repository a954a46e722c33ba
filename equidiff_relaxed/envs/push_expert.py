"""Scripted closed-loop expert for the planar push tasks.

Each step (10 Hz) it plans a path for the puck from the puck's *current* position (straight to the goal, or, when the
straight path would hit the pillar, the shortest path around the pillar's keep-out disc), then pushes the puck toward
a look-ahead point on that path: the pusher target
is the contact point behind the puck plus one step along the push direction. When the pusher is not behind the puck
it first moves there, circling the puck (on the side that keeps clear of the pillar) instead of hitting it.
The pillar's position is privileged knowledge of the expert (it is not in the observation); it is fixed in the world,
so the expert is still a function of the observation alone.

Memoryless by default: the action is a function of the current observation only (same observation, same action), so
a policy can clone it from what it sees. ``ExpertConfig(memoryless=False)`` keeps the older behaviour (the path is
planned once from the initial puck position and followed from memory) for comparison.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from equidiff_relaxed.envs.push_scene import PushGeometry, VariantSpec


@dataclass
class ExpertConfig:
    push_step: float = 0.025       # metres the pusher target leads per step while pushing (0.25 m/s)
    move_step: float = 0.04        # metres per step while repositioning
    lookahead: float = 0.06        # look-ahead distance along the puck path
    align_tolerance: float = 0.012 # pusher farther than this from the contact point behind the puck -> reposition
    pillar_clearance: float = 0.035  # extra distance kept between the puck's rim and the pillar's
    circle_margin: float = 0.02    # extra radius when circling the puck
    noise_std: float = 0.0         # Gaussian noise on the commanded target (part of the recorded label)
    memoryless: bool = True        # replan from the current observation every step (False: plan once per episode)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else np.array([1.0, 0.0])


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = float(np.clip(np.dot(p - a, ab) / max(float(np.dot(ab, ab)), 1e-12), 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * ab)))


def _tangent_angle(p: np.ndarray, o: np.ndarray, radius: float, side: float) -> float:
    """Angle (about ``o``) of the tangent point from ``p`` to the circle (o, radius) on ``side`` (+1: the path then
    turns counter-clockwise about ``o``). A point inside the circle is treated as lying on it."""
    v = p - o
    d = max(float(np.linalg.norm(v)), radius * (1 + 1e-9))
    return math.atan2(v[1], v[0]) - side * math.acos(min(1.0, radius / d))


def _paths_around_disc(p: np.ndarray, g: np.ndarray, o: np.ndarray, radius: float,
                       arc_step: float = 0.2) -> list[tuple[float, np.ndarray]]:
    """(length, path) of the tangent -> arc -> tangent path from ``p`` to ``g`` around the disc (o, radius) on
    either side (counter-clockwise first)."""
    out = []
    for side in (1.0, -1.0):
        a0 = _tangent_angle(p, o, radius, side)
        a1 = _tangent_angle(g, o, radius, -side)  # the tangent from the goal, approached in the same turning sense
        sweep = (side * (a1 - a0)) % (2 * math.pi)
        n = max(1, int(math.ceil(sweep / arc_step)))
        angles = a0 + side * sweep * np.arange(n + 1) / n
        arc = o + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        path = np.vstack([p, arc, g])
        out.append((float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum()), path))
    return out


def path_around_disc(p: np.ndarray, g: np.ndarray, o: np.ndarray, radius: float, arc_step: float = 0.2) -> np.ndarray:
    """(P, 2) shortest polyline from ``p`` to ``g`` that keeps out of the disc (o, radius): straight when the segment
    clears it, else tangent -> arc (sampled every ``arc_step`` rad) -> tangent, on the shorter side.

    Shortest paths are consistent in time: re-planned from any point along it, the path is its own remainder, so an
    expert that re-plans every step follows one path without memory. Ties (the disc exactly on the line) go to the
    counter-clockwise side; one step along it makes that side strictly shorter, so the choice does not flip.
    """
    if _segment_distance(o, p, g) >= radius:
        return np.stack([p, g])
    best: tuple[float, np.ndarray] | None = None
    for length, path in _paths_around_disc(p, g, o, radius, arc_step):
        if best is None or length < best[0] - 1e-9:
            best = (length, path)
    assert best is not None
    return best[1]


def _wrap_paths(p: np.ndarray, g: np.ndarray, o: np.ndarray, radius: float,
                arc_step: float = 0.2) -> list[tuple[float, np.ndarray]]:
    """(length, path) of the paths from ``p`` to ``g`` that wrap the circle (o, radius) counter-clockwise and
    clockwise: the tangent from ``p`` in that turning sense, the arc, and the tangent to ``g`` in the same sense."""
    out = []
    for sense in (1.0, -1.0):  # +1: counter-clockwise about o
        vp, vg = p - o, g - o
        dp = max(float(np.linalg.norm(vp)), radius * (1 + 1e-9))
        dg = max(float(np.linalg.norm(vg)), radius * (1 + 1e-9))
        a0 = math.atan2(vp[1], vp[0]) + sense * math.acos(min(1.0, radius / dp))
        a1 = math.atan2(vg[1], vg[0]) - sense * math.acos(min(1.0, radius / dg))
        sweep = (sense * (a1 - a0)) % (2 * math.pi)
        n = max(1, int(math.ceil(sweep / arc_step)))
        angles = a0 + sense * sweep * np.arange(n + 1) / n
        path = np.vstack([p, o + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1), g])
        out.append((float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum()), path))
    return out


def segments_distance(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> float:
    """Smallest distance between the segments ab and cd (0 when they cross)."""
    def cross(o: np.ndarray, p: np.ndarray, q: np.ndarray) -> float:
        return float((p[0] - o[0]) * (q[1] - o[1]) - (p[1] - o[1]) * (q[0] - o[0]))

    d1, d2, d3, d4 = cross(c, d, a), cross(c, d, b), cross(a, b, c), cross(a, b, d)
    if d1 * d2 < 0 and d3 * d4 < 0:
        return 0.0
    return min(_segment_distance(a, c, d), _segment_distance(b, c, d), _segment_distance(c, a, b),
               _segment_distance(d, a, b))


def path_clearance(path: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Smallest distance of the polyline ``path`` from the segment ab."""
    return min(segments_distance(path[i], path[i + 1], a, b) for i in range(len(path) - 1))


def path_around_segment(p: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """(P, 2) short polyline from ``p`` to ``g`` that keeps out of the capsule of points within ``radius`` of the
    segment ab (a wall): straight when the segment pg clears it, else the shortest tangent -> arc -> tangent path
    around the disc of either end, in either turning sense, that stays clear of the whole capsule (the shortest path
    around the capsule when ``p`` and ``g`` are outside it, so re-planning from a point on it gives its remainder).
    A start already inside the keep-out (a puck that has come round the end) may stay as close as it is; when no
    path clears, the one that keeps farthest from the wall."""
    # 3 %: the sampled arcs' chords cut 0.1 % into the disc, and a puck on the boundary must not flip its plan
    needed = min(radius, _segment_distance(p, a, b)) * 0.97
    if path_clearance(np.stack([p, g]), a, b) >= needed:
        return np.stack([p, g])
    scored = []
    for end in (a, b):
        for length, path in _wrap_paths(p, g, end, radius, arc_step=0.1):
            scored.append((path_clearance(path, a, b) < needed, length, -path_clearance(path, a, b), path))
    valid = [c for c in scored if not c[0]]
    best = min(valid, key=lambda c: c[1]) if valid else min(scored, key=lambda c: c[2])
    return best[3]


class PushExpert:
    """Call :meth:`reset` at each episode start, then :meth:`act` with each observation dict."""

    def __init__(self, geom: PushGeometry, variant: VariantSpec, config: ExpertConfig | None = None,
                 rng: np.random.Generator | None = None):
        self.geom = geom
        self.cfg = config or ExpertConfig()
        self.pillar = np.asarray(geom.pillar_pos) if variant.pillar else None
        self.walls = [np.asarray(e) for e in geom.walls_ends] if variant.wall and geom.wall_half_length > 0 else []
        self.rng = rng or np.random.default_rng(0)
        self.path: np.ndarray | None = None
        self.repositioning = False  # whether the last action moved the pusher back behind the puck (not pushing)

    def reset(self, rng: np.random.Generator | None = None) -> None:
        if rng is not None:
            self.rng = rng
        self.path = None

    # ------------------------------------------------------------------ planning
    def plan(self, puck: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """(P, 2) polyline for the puck centre from ``puck`` to ``goal``, around the pillar if needed (memoryless:
        the shortest path around the pillar's keep-out disc; else the older two-via-point detour), around the wall's
        keep-out capsule for push-wall (around the first wall whose capsule the straight push enters; walls stand far
        enough apart that a detour round one clears the others)."""
        g, c = self.geom, self.cfg
        if self.walls:
            keep = g.wall_half_thickness + g.puck_radius + c.pillar_clearance + g.pusher_radius / 2
            for a, b in self.walls:
                path = path_around_segment(puck, goal, a, b, keep)
                if len(path) > 2:
                    return path
            return np.stack([puck, goal])
        if self.pillar is None:
            return np.stack([puck, goal])
        keep = g.pillar_radius + g.puck_radius + c.pillar_clearance
        if c.memoryless:
            return path_around_disc(puck, goal, self.pillar, keep + g.pusher_radius / 2)
        if _segment_distance(self.pillar, puck, goal) >= keep:
            return np.stack([puck, goal])
        d = _unit(goal - puck)
        n = np.array([-d[1], d[0]])
        side = 1.0 if float(np.dot(self.pillar - puck, n)) < 0 else -1.0  # pass on the side the pillar is not
        # widen the detour so both the puck (and the pusher behind it) keep clear
        offset = self.pillar + side * n * (keep + g.pusher_radius)
        along = keep + g.pusher_radius
        via1 = offset - d * along
        via2 = offset + d * along
        return np.stack([puck, via1, via2, goal])

    def _lookahead(self, puck: np.ndarray) -> np.ndarray:
        """Point ``lookahead`` metres ahead of the puck's projection onto the planned path."""
        path = self.path
        assert path is not None
        best, best_d, best_s = 0, math.inf, 0.0
        seg_len = np.linalg.norm(np.diff(path, axis=0), axis=1)
        for i in range(len(path) - 1):
            a, b = path[i], path[i + 1]
            ab = b - a
            t = float(np.clip(np.dot(puck - a, ab) / max(float(np.dot(ab, ab)), 1e-12), 0.0, 1.0))
            d = float(np.linalg.norm(puck - (a + t * ab)))
            if d < best_d - 1e-9:
                best, best_d, best_s = i, d, t * seg_len[i]
        remaining = self.cfg.lookahead + best_s
        for i in range(best, len(path) - 1):
            if remaining <= seg_len[i]:
                return path[i] + _unit(path[i + 1] - path[i]) * remaining
            remaining -= seg_len[i]
        return path[-1]

    # ------------------------------------------------------------------ control
    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Target xy (float32) for the pusher, given ``pusher_pos``, ``puck_pos``, ``goal_pos``."""
        g, c = self.geom, self.cfg
        pusher = np.asarray(obs["pusher_pos"], dtype=np.float64)
        puck = np.asarray(obs["puck_pos"], dtype=np.float64)
        goal = np.asarray(obs["goal_pos"], dtype=np.float64)
        if self.path is None or self.cfg.memoryless:
            self.path = self.plan(puck, goal)
        to_goal = float(np.linalg.norm(goal - puck))
        aim = self._lookahead(puck)
        u = _unit(aim - puck)
        contact = g.puck_radius + g.pusher_radius
        behind = puck - u * (contact + 0.002)
        self.repositioning = float(np.linalg.norm(pusher - behind)) > c.align_tolerance
        if self.repositioning:
            target = self._reposition(pusher, puck, behind, u)
        else:
            step = min(c.push_step, to_goal + 0.002)
            target = behind + u * step
        if c.noise_std > 0:
            target = target + self.rng.normal(scale=c.noise_std, size=2)
        return target.astype(np.float32)

    def _reposition(self, pusher: np.ndarray, puck: np.ndarray, behind: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Move toward ``behind`` without touching the puck: around it when the direct path would hit it."""
        g, c = self.geom, self.cfg
        contact = g.puck_radius + g.pusher_radius
        radius = contact + c.circle_margin
        if _segment_distance(puck, pusher, behind) >= contact or float(np.linalg.norm(pusher - puck)) > 3 * radius:
            return self._step_toward(pusher, behind)
        # circle the puck at `radius`, toward the angle of `behind`, on the side that keeps clear of the pillar
        cur = math.atan2(*(pusher - puck)[::-1])
        goal_ang = math.atan2(*(-u)[::-1])
        delta = (goal_ang - cur + math.pi) % (2 * math.pi) - math.pi
        shorter = 1.0 if delta >= 0 else -1.0
        for direction, arc in ((shorter, abs(delta)), (-shorter, 2 * math.pi - abs(delta))):
            ang = cur + direction * min(arc, c.move_step / radius)
            waypoint = puck + radius * np.array([math.cos(ang), math.sin(ang)])
            if self._clear(waypoint):
                return waypoint
        return self._step_toward(pusher, behind)

    def _clear(self, point: np.ndarray) -> bool:
        """Whether the pusher at ``point`` keeps 1 cm clear of the pillar and the wall."""
        g = self.geom
        if self.pillar is not None and np.linalg.norm(point - self.pillar) <= g.pillar_radius + g.pusher_radius + 0.01:
            return False
        if any(_segment_distance(point, a, b) <= g.wall_half_thickness + g.pusher_radius + 0.01 for a, b in self.walls):
            return False
        return True

    def _step_toward(self, pusher: np.ndarray, target: np.ndarray) -> np.ndarray:
        d = target - pusher
        n = float(np.linalg.norm(d))
        return target if n <= self.cfg.move_step else pusher + d / n * self.cfg.move_step
