"""Geometry of the planar push tasks and the MJCF (MuJoCo XML) built from it.

World frame: the table top is the plane z = 0, its centre (the symmetry centre) is the world origin. The pusher is
a sphere at the puck's mid-height, moved by two identical position servos along world x and y (an isotropic PD law,
so rotation-equivariant); it touches only the puck and the pillar, never the table. (A sphere touches the puck at one
well-defined point; a cylinder pusher makes a line contact whose chosen point is not rotation-equivariant and tips
the puck.) The puck is a free body resting on the
table, with elliptic friction cones (pyramidal cones are not rotation invariant). The goal is a visual marker only.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


WALL_FULL_HALF_LENGTH = 0.12  # m: the wall at strength 1 (24 cm long)


@dataclass(frozen=True)
class PushGeometry:
    """Sizes (metres), masses (kg) and gains of the push scene; all variants share it."""

    workspace_radius: float = 0.40      # actions are clipped to this disc about the centre (rotation invariant)
    pusher_radius: float = 0.02
    puck_radius: float = 0.025
    puck_height: float = 0.02
    puck_mass: float = 0.1
    table_friction: float = 0.5
    pusher_mass: float = 0.5
    servo_kp: float = 500.0
    servo_damping: float = 31.6         # ~critical for kp=500, m=0.5
    max_servo_offset: float = 0.08      # the servo set-point is kept within this distance of the pusher (<= 40 N)
    timestep: float = 0.002
    control_hz: float = 10.0
    # canonical layout at theta = 0 (everything is then rotated by theta about the centre)
    puck_start_radius: float = 0.08
    goal_radius: float = 0.30
    layout_jitter: float = 0.015        # uniform +-jitter on puck, goal and pusher start (both axes)
    success_tolerance: float = 0.025    # puck centre within this distance of the goal
    # push-pillar: a fixed column at a fixed world position (think: the robot's base), not in the observation
    pillar_radius: float = 0.03
    pillar_distance: float = 0.19
    pillar_angle: float = 5 * math.pi / 8   # centre of region 2 of 8 (90..135 degrees)
    # push-drift: a weak constant world-frame force on the puck (below static friction)
    drift_force: tuple[float, float] = (0.0, 0.12)
    # push-wall: a fixed wall across the straight push of a sector (think: a shelf side), not in the observation; it
    # stands at wall_distance from the centre, centred on the ray at wall_angle, tangential to the circle there.
    # wall_strength in [0, 1] scales its half-length up to WALL_FULL_HALF_LENGTH (0: no wall, the symmetric task;
    # 1: every straight push whose path crosses the ray's sector of +-33 degrees is blocked, region 2 of 8 entirely)
    wall_strength: float = 1.0
    wall_distance: float = 0.19
    wall_angle: float = 5 * math.pi / 8
    wall_half_thickness: float = 0.01
    extra_wall_angles: tuple[float, ...] = ()  # more walls like the first, on these rays (radians)

    @property
    def substeps(self) -> int:
        return int(round(1.0 / (self.control_hz * self.timestep)))

    @property
    def wall_half_length(self) -> float:
        return WALL_FULL_HALF_LENGTH * self.wall_strength

    @property
    def wall_angles(self) -> tuple[float, ...]:
        """The rays (radians) of every wall: ``wall_angle``, then ``extra_wall_angles``."""
        return (self.wall_angle, *self.extra_wall_angles)

    def ends_of_wall(self, angle: float) -> tuple[tuple[float, float], tuple[float, float]]:
        """World xy of the two ends of the centre line of the wall on the ray at ``angle``."""
        cx, cy = self.wall_distance * math.cos(angle), self.wall_distance * math.sin(angle)
        tx, ty = -math.sin(angle), math.cos(angle)
        h = self.wall_half_length
        return (cx - h * tx, cy - h * ty), (cx + h * tx, cy + h * ty)

    @property
    def wall_ends(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """World xy of the two ends of the (first) wall's centre line."""
        return self.ends_of_wall(self.wall_angle)

    @property
    def walls_ends(self) -> tuple[tuple[tuple[float, float], tuple[float, float]], ...]:
        """The ends of every wall, in :attr:`wall_angles` order."""
        return tuple(self.ends_of_wall(a) for a in self.wall_angles)

    @staticmethod
    def wall_name(i: int) -> str:
        """The name of wall ``i`` (in :attr:`wall_angles` order) in the MJCF scene and the shape_meta ``breaking``
        section: ``wall``, then ``wall_2``, ``wall_3``, ..."""
        return "wall" if i == 0 else f"wall_{i + 1}"

    @property
    def pillar_pos(self) -> tuple[float, float]:
        return (self.pillar_distance * math.cos(self.pillar_angle), self.pillar_distance * math.sin(self.pillar_angle))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class VariantSpec:
    """What a named variant adds to the symmetric base task."""

    name: str
    pillar: bool = False
    drift: bool = False
    wall: bool = False
    description: str = ""


VARIANTS: dict[str, VariantSpec] = {
    "push": VariantSpec("push", description="no symmetry breaker: dynamics, reward and layouts are rotation invariant"),
    "push-pillar": VariantSpec("push-pillar", pillar=True,
                               description="a fixed column blocks the straight push in a sector of orientations"),
    "push-drift": VariantSpec("push-drift", drift=True,
                              description="a weak constant world-frame force on the puck: mildly orientation dependent"),
    "push-wall": VariantSpec("push-wall", wall=True,
                             description="a fixed wall blocks every straight push of a sector and forces a detour "
                                         "around its end (strength: its length)"),
}


def build_mjcf(geom: PushGeometry, variant: VariantSpec, image_size: int | None = None) -> str:
    """MJCF string of the scene. The 'top' camera looks straight down at the centre: image +x right, +y up."""
    pr, ph = geom.puck_radius, geom.puck_height
    view = geom.workspace_radius + 0.05
    cam_height = 1.0
    fovy = math.degrees(2 * math.atan(view / cam_height))
    pillar = ""
    if variant.pillar:
        px, py = geom.pillar_pos
        pillar = (f'<geom name="pillar" type="cylinder" size="{geom.pillar_radius} 0.05" pos="{px} {py} 0.05" '
                  f'rgba="0.25 0.25 0.3 1" contype="2" conaffinity="2" solref="0.004 1"/>')
    for i, angle in enumerate(geom.wall_angles if variant.wall and geom.wall_half_length > 0 else ()):
        cx, cy = geom.wall_distance * math.cos(angle), geom.wall_distance * math.sin(angle)
        pillar += (f'<geom name="{geom.wall_name(i)}" type="box" size="{geom.wall_half_thickness} {geom.wall_half_length} 0.05" '
                   f'pos="{cx} {cy} 0.05" euler="0 0 {math.degrees(angle)}" rgba="0.25 0.25 0.3 1" contype="2" '
                   f'conaffinity="2" solref="0.004 1"/>')
    size = image_size or 64
    return f"""
<mujoco model="planar_push_{variant.name}">
  <option timestep="{geom.timestep}" cone="elliptic" integrator="implicitfast"/>
  <visual>
    <global offwidth="{size}" offheight="{size}"/>
    <quality offsamples="0" shadowsize="0"/>
    <headlight ambient="0.6 0.6 0.6" diffuse="0.4 0.4 0.4" specular="0 0 0"/>
  </visual>
  <worldbody>
    <camera name="top" pos="0 0 {cam_height}" xyaxes="1 0 0 0 1 0" fovy="{fovy:.4f}"/>
    <geom name="table" type="plane" size="{view} {view} 0.1" rgba="0.82 0.80 0.76 1"
          friction="{geom.table_friction} 0.005 0.0001" contype="1" conaffinity="1"/>
    {pillar}
    <body name="pusher" pos="0 0 {ph / 2}">
      <joint name="pusher_x" type="slide" axis="1 0 0" damping="{geom.servo_damping}" limited="false"/>
      <joint name="pusher_y" type="slide" axis="0 1 0" damping="{geom.servo_damping}" limited="false"/>
      <geom name="pusher" type="sphere" size="{geom.pusher_radius}" mass="{geom.pusher_mass}"
            rgba="0.15 0.35 0.85 1" contype="2" conaffinity="2" friction="0.1 0.005 0.0001"/>
    </body>
    <body name="puck" pos="0 0 {ph / 2}">
      <freejoint name="puck"/>
      <geom name="puck" type="cylinder" size="{pr} {ph / 2}" mass="{geom.puck_mass}" rgba="0.85 0.2 0.15 1"
            contype="3" conaffinity="3" friction="{geom.table_friction} 0.005 0.0001"/>
    </body>
    <body name="goal_marker" mocap="true" pos="0 0 0">
      <geom name="goal" type="cylinder" size="{geom.success_tolerance} 0.001" pos="0 0 0.001" rgba="0.2 0.75 0.3 0.7"
            contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator>
    <position name="servo_x" joint="pusher_x" kp="{geom.servo_kp}" ctrllimited="false"/>
    <position name="servo_y" joint="pusher_y" kp="{geom.servo_kp}" ctrllimited="false"/>
  </actuator>
</mujoco>
"""
