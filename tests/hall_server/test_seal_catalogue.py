"""The seal catalogue: 982 seals, each owned by one department and held in one machine slot."""

from __future__ import annotations

from hall_server.seal_catalogue import departments, seals, seals_of_department


def test_982_seals_each_in_exactly_one_machine_slot() -> None:
    catalogue = seals()
    assert len(catalogue) == 982
    places = {(s.machine, s.slot) for s in catalogue.values()}
    assert len(places) == 982, "two seals share a machine slot"
    assert len({s.rfid for s in catalogue.values()}) == 982


def test_every_seal_belongs_to_a_known_department_of_its_hall() -> None:
    known = departments()
    for seal in seals().values():
        assert seal.department in known
        assert known[seal.department].hall == seal.hall
        assert seal.machine.startswith(seal.hall)


def test_a_department_has_its_own_seals() -> None:
    market = seals_of_department("cc-city.market")
    assert {s.name for s in market} >= {"长春市市场监督管理局行政审批专用章"}
    assert all(s.department == "cc-city.market" for s in market)
