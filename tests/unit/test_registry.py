"""The registry's versioned schema: a registry written before migrations existed (a real one,
tests/unit/data/registry-2026-12.sql) is brought up to date with its data intact."""

import os
import sqlite3

import pytest

from hubsetup import registry

DUMP = os.path.join(os.path.dirname(__file__), "data", "registry-2026-12.sql")


@pytest.fixture
def registry_of_2026(tmp_path):
    path = tmp_path / "state" / "registry.sqlite"
    path.parent.mkdir()
    db = sqlite3.connect(path)
    with open(DUMP) as f:
        db.executescript(f.read())
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    before = {table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
              for table in ("users", "courses", "memberships", "lti_identities", "lti_contexts", "launches")}
    db.close()
    return str(path), before


def test_a_registry_of_2026_is_migrated_with_its_data(registry_of_2026):
    path, before = registry_of_2026
    with registry.connect(path) as db:
        after = {table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in before}
        launches = registry.launches(db, "course-v1-mitx-6.00-2026", "ps1")
        version = db.execute("PRAGMA user_version").fetchone()[0]
    assert version == registry.SCHEMA_VERSION
    for table in ("courses", "memberships", "lti_identities", "lti_contexts"):
        assert [tuple(row) for row in after[table]] == before[table], table
    # users keep every column and gain an empty name: no registry of 2026 had names
    assert [tuple(row)[:-4] for row in after["users"]] == before["users"]
    assert {tuple(row)[-4:] for row in after["users"]} == {("", "", "", "")}
    # launches keep every column and gain their protocol (they were all LTI 1.1) and an empty
    # line items URL (LTI 1.3's)
    assert [tuple(row)[:-2] for row in after["launches"]] == before["launches"]
    assert {tuple(row)[-1] for row in after["launches"]} == {""}
    assert {launch["login"]: (launch["protocol"], launch["pushed_score"]) for launch in launches} == {
        "edx-alice": ("lti11", 0.75), "edx-bob": ("lti11", None), "edx-prof": ("lti11", None)}


def test_a_migrated_registry_is_not_migrated_again(registry_of_2026):
    path, _ = registry_of_2026
    with registry.connect(path):
        pass
    with registry.connect(path) as db:  # a second step run again would fail: duplicate column
        assert db.execute("PRAGMA user_version").fetchone()[0] == registry.SCHEMA_VERSION


def test_a_new_registry_has_the_latest_schema(tmp_path):
    with registry.connect(str(tmp_path / "registry.sqlite")) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(launches)")]
        assert db.execute("PRAGMA user_version").fetchone()[0] == registry.SCHEMA_VERSION
    assert columns[-2:] == ["protocol", "line_items_url"]
    assert {"score_url", "score_for"} <= set(columns) and "outcome_service_url" not in columns


def test_a_registry_of_a_newer_hub_is_refused_untouched(tmp_path):
    path = tmp_path / "registry.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {registry.SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(registry.NewerRegistry, match="newer than this hub's"):
        with registry.connect(str(path)):
            pass
    assert sqlite3.connect(path).execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
