"""The repair step before `up`/`recover` applies: which state files are restored, and the fate of each
item on the service that state does not hold (import, delete as a duplicate, or report)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from examples.baseline import item_names
from examples.harness._errors import HarnessError
from examples.harness._repair import (
    LiveItem,
    OrphanPlan,
    classify_orphans,
    find_orphans,
    restore_local_state,
    state_text_problem,
)

STATE = json.dumps({"version": 4, "serial": 7, "resources": [{"type": "demoapp_item"}]})
BACKUP = json.dumps({"version": 4, "serial": 5, "resources": [{"type": "docker_container"}]})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("  \n", "empty"),
        (STATE[: len(STATE) // 2], "not valid JSON"),
        ("[]", "not a Terraform state"),
        ('{"resources": []}', "not a Terraform state"),
    ],
    ids=["empty", "blank", "cut-short", "a-list", "no-version"],
)
def test_unusable_state_text_is_named(text: str, problem: str) -> None:
    found = state_text_problem(text)
    assert found is not None and found.startswith(problem)


def test_a_readable_state_has_no_problem() -> None:
    assert state_text_problem(STATE) is None
    assert state_text_problem(json.dumps({"version": 4, "resources": []})) is None


def _files(tmp_path: Path, state: str | None, backup: str | None) -> Path:
    state_file = tmp_path / "terraform.tfstate"
    if state is not None:
        state_file.write_text(state)
    if backup is not None:
        (tmp_path / "terraform.tfstate.backup").write_text(backup)
    return state_file


def test_an_empty_state_file_is_restored_from_its_backup(tmp_path: Path) -> None:
    state_file = _files(tmp_path, "", BACKUP)
    said = restore_local_state(state_file)
    assert said is not None and "was empty" in said
    assert state_file.read_text() == BACKUP
    assert (tmp_path / "terraform.tfstate.broken").read_text() == ""


def test_a_cut_short_state_file_is_kept_aside_and_restored(tmp_path: Path) -> None:
    cut = STATE[:20]
    state_file = _files(tmp_path, cut, BACKUP)
    assert restore_local_state(state_file) is not None
    assert state_file.read_text() == BACKUP
    assert (tmp_path / "terraform.tfstate.broken").read_text() == cut


def test_a_readable_state_is_never_touched(tmp_path: Path) -> None:
    state_file = _files(tmp_path, STATE, BACKUP)
    assert restore_local_state(state_file) is None
    assert state_file.read_text() == STATE
    assert not (tmp_path / "terraform.tfstate.broken").exists()


def test_no_state_file_is_nothing_to_repair(tmp_path: Path) -> None:
    state_file = _files(tmp_path, None, BACKUP)
    assert restore_local_state(state_file) is None
    assert not state_file.exists()


def test_without_a_backup_the_first_apply_was_killed_and_state_starts_empty(tmp_path: Path) -> None:
    """terraform writes no backup when there was no state before, so only a first apply leaves none."""
    state_file = _files(tmp_path, "", None)
    said = restore_local_state(state_file)
    assert said is not None and "no backup" in said
    assert not state_file.exists()
    assert (tmp_path / "terraform.tfstate.broken").read_text() == ""


@pytest.mark.parametrize("backup", ["", "{"], ids=["empty", "cut-short"])
def test_with_an_unreadable_backup_the_presenter_is_told(tmp_path: Path, backup: str) -> None:
    state_file = _files(tmp_path, "", backup)
    with pytest.raises(HarnessError) as raised:
        restore_local_state(state_file)
    assert "terraform.tfstate is empty" in raised.value.message
    assert raised.value.hint
    assert state_file.read_text() == "", "an unreadable state is left as found when nothing replaces it"


def _live(*items: tuple[int, str]) -> list[LiveItem]:
    return [LiveItem.from_api({"id": item_id, "name": name}) for item_id, name in items]


CONFIGURED = item_names(4)  # demoapp_item.item[0..3]: Demo item 1..4


def test_item_names_follow_the_config() -> None:
    assert CONFIGURED == {
        "demoapp_item.item[0]": "Demo item 1",
        "demoapp_item.item[1]": "Demo item 2",
        "demoapp_item.item[2]": "Demo item 3",
        "demoapp_item.item[3]": "Demo item 4",
    }


def test_orphans_are_the_live_items_state_does_not_hold() -> None:
    live = _live((1, "Demo item 1"), (2, "Demo item 2"), (3, "Demo item 3"))
    assert find_orphans(["1", "3"], live) == [LiveItem("2", "Demo item 2")]
    assert find_orphans(["1", "2", "3"], live) == []


def test_nothing_to_do_when_state_holds_every_live_item() -> None:
    in_state = {"demoapp_item.item[0]": "1", "demoapp_item.item[1]": "2"}
    plan = classify_orphans(CONFIGURED, in_state, _live((1, "Demo item 1"), (2, "Demo item 2")))
    assert plan.empty


def test_an_address_missing_from_state_adopts_the_orphan_with_its_name() -> None:
    in_state = {"demoapp_item.item[0]": "1", "demoapp_item.item[2]": "3"}
    live = _live((1, "Demo item 1"), (3, "Demo item 3"), (7, "Demo item 2"), (8, "Demo item 4"))
    plan = classify_orphans(CONFIGURED, in_state, live)
    assert plan == OrphanPlan(imports={"demoapp_item.item[1]": "7", "demoapp_item.item[3]": "8"})


def test_an_orphan_whose_name_state_already_has_is_a_duplicate() -> None:
    """The SIGKILL case: `recover` re-created item[2] as id 3, while the first create (id 9) had landed."""
    in_state = {address: str(n) for n, address in enumerate(CONFIGURED, start=1)}
    live = _live((1, "Demo item 1"), (2, "Demo item 2"), (3, "Demo item 3"), (4, "Demo item 4"))
    live += _live((9, "Demo item 3"))
    plan = classify_orphans(CONFIGURED, in_state, live)
    assert plan == OrphanPlan(duplicates=[LiveItem("9", "Demo item 3")])


def test_of_two_orphans_with_one_name_the_lowest_id_is_adopted_and_the_other_deleted() -> None:
    live = _live((12, "Demo item 1"), (10, "Demo item 1"), (11, "Demo item 2"), (100, "Demo item 2"))
    plan = classify_orphans(item_names(2), {}, live)
    assert plan.imports == {"demoapp_item.item[0]": "10", "demoapp_item.item[1]": "11"}
    assert plan.duplicates == [LiveItem("12", "Demo item 1"), LiveItem("100", "Demo item 2")]
    assert plan.foreign == []


def test_items_that_are_no_demo_items_are_reported_never_deleted() -> None:
    """Names the config does not give (a presenter's item, or one past `--items`) are left to people."""
    in_state = {"demoapp_item.item[0]": "1"}
    live = _live((1, "Demo item 1"), (5, "added in the page"), (6, "Demo item 9"), (7, "demo item 2 "))
    plan = classify_orphans(item_names(1), in_state, live)
    assert plan.imports == {} and plan.duplicates == []
    assert plan.foreign == _live((5, "added in the page"), (6, "Demo item 9"), (7, "demo item 2 "))


def test_an_address_in_state_never_takes_an_orphan() -> None:
    """item[0] is in state under a renamed item (the provider renames it back): the orphan with its
    configured name is a second copy, not a candidate for import."""
    in_state = {"demoapp_item.item[0]": "1"}
    live = _live((1, "renamed in the page"), (4, "Demo item 1"))
    plan = classify_orphans(item_names(1), in_state, live)
    assert plan == OrphanPlan(duplicates=[LiveItem("4", "Demo item 1")])
