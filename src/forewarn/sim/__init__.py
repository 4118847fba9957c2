"""The device fleet simulator: seed fleets that speak HJ 212, with incidents, for demos and tests.

The pure part (:func:`render`, :func:`render_segments`, :func:`sample`) turns a device, an
instant and its incidents into values and packets; :func:`run_simulator` is the asyncio shell
that connects each device to a platform and sends them on time. :func:`fleet_files` gives the
CSV files that ``forewarn registry import`` reads to register the same fleet.
"""

from forewarn.sim.fleet import (
    SimDevice,
    SimPoint,
    fleet_files,
    fleet_regions_file,
    load_fleet,
    load_profiles,
)
from forewarn.sim.incidents import Incident, IncidentKind
from forewarn.sim.packets import Packet, render, render_segments
from forewarn.sim.planner import DEFAULT_INCIDENT_RATE, IncidentPlanner
from forewarn.sim.runner import SimStats, run_simulator
from forewarn.sim.signals import facility_status, sample

__all__ = [
    "DEFAULT_INCIDENT_RATE",
    "Incident",
    "IncidentKind",
    "IncidentPlanner",
    "Packet",
    "SimDevice",
    "SimPoint",
    "SimStats",
    "facility_status",
    "fleet_files",
    "fleet_regions_file",
    "load_fleet",
    "load_profiles",
    "render",
    "render_segments",
    "run_simulator",
    "sample",
]
