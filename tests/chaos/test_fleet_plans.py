"""The fleet tier's fault plans (tests/chaos/fleet.py), without hosts: drawn the same from the same
seed, every fault at a host that has tasks in its phase and can take that kind of fault, and the
phases and hosts of rollback_complete on the fleet all covered across a long run's plans."""

from __future__ import annotations

from tests.chaos.chaos import PHASES
from tests.chaos.fleet import FAULT_HOSTS, FLEET_FAULTS, FLEET_PHASES, fleet_plan_from_seed


def test_same_seed_same_plans():
    assert fleet_plan_from_seed(7, 20) == fleet_plan_from_seed(7, 20)
    assert fleet_plan_from_seed(7, 20) != fleet_plan_from_seed(8, 20)


def test_fleet_phases_follow_the_playbook():
    assert [name for name, _counts in FLEET_PHASES] == [name for name, _prefix, _count in PHASES]


def test_every_fault_can_happen_where_it_is_planned():
    counts = dict(FLEET_PHASES)
    for plan in fleet_plan_from_seed(2611, 200):
        assert plan, "an empty plan"
        kills = [f for f in plan if f.fault == "controller_kill"]
        assert kills in ([], [plan[-1]])  # a controller kill ends the run: only ever last
        for fault in plan:
            assert 1 <= fault.task <= counts[fault.phase][fault.host]
            assert fault.host in FAULT_HOSTS.get(fault.fault, (fault.host,))
            assert fault.host != "localhost" or fault.fault in ("module_kill", "controller_kill")


def test_a_long_run_covers_every_phase_host_and_fault():
    plans = fleet_plan_from_seed(2611, 40)
    points = {(f.phase, f.host) for plan in plans for f in plan}
    wanted = {(phase, host) for phase, counts in FLEET_PHASES for host in counts}
    assert wanted - points == set()
    assert {f.fault for plan in plans for f in plan} == set(FLEET_FAULTS)
