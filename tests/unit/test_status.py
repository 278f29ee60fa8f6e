"""`hubsetup status`: disk use counted without following what users link to."""

import os

from hubsetup import status
from hubsetup.settings import Settings


def write(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(size))


def test_disk_use_counts_a_home_and_not_what_its_links_point_to(tmp_path):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    (home / "notebooks").mkdir(parents=True)
    elsewhere.mkdir()
    write(home / "notebooks" / "data.csv", 256 * 1024)
    write(elsewhere / "big", 8 * 2**20)
    os.symlink(elsewhere / "big", home / "big-file")
    os.symlink(elsewhere, home / "big-folder")
    used = status.disk_use(str(home))
    assert 256 * 1024 <= used < 1 * 2**20


def test_a_home_that_is_a_link_counts_nothing(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    write(target / "big", 2**20)
    os.symlink(target, tmp_path / "home")
    assert status.disk_use(str(tmp_path / "home")) == 0


def test_filesystems_shared_by_several_places_are_listed_once(tmp_path):
    for name in ("home", "exchange", "courses", "state"):
        (tmp_path / name).mkdir()
    settings = Settings.from_env({}, home_root=str(tmp_path / "home"), exchange_root=str(tmp_path / "exchange"),
                                 courses_root=str(tmp_path / "courses"), state_dir=str(tmp_path / "state"))
    lines, _ = status.filesystems(settings)
    assert lines[1].startswith(f"  homes ({tmp_path}/home): ") and "free of" in lines[1]
    assert lines[2:] == [
        f"  exchange ({tmp_path}/exchange): on the same filesystem as homes",
        f"  courses ({tmp_path}/courses): on the same filesystem as homes",
        f"  hub state ({tmp_path}/state): on the same filesystem as homes",
    ]


def test_status_shows_real_names_beside_logins(site):
    site.sync("prof1;pw;1;;王老师\neleve1;pw\n")
    (site.tmp / "home" / "prof1" / "lesson.ipynb").write_bytes(os.urandom(64 * 1024))
    site.launch_in("张三", "course-v1:X+Y+Z", name="张三")
    report = status.report(site.settings)
    assert "  prof1 (王老师): " in report and "  eleve1: " in report
