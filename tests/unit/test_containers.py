"""Where per-user containers get their home, shared volumes, network and names from."""

import os

import pytest

from hubsetup import containers
from hubsetup.settings import Settings

LOCAL_HOME = {"Name": "school_jh_home", "Driver": "local", "Options": None,
              "Mountpoint": "/var/lib/docker/volumes/school_jh_home/_data"}
NFS_HOME = {"Name": "school_jh_home", "Driver": "local",
            "Options": {"type": "nfs", "o": "addr=10.0.0.5,rw,nfsvers=4", "device": ":/export/home/"},
            "Mountpoint": "/var/lib/docker/volumes/school_jh_home/_data"}


def settings(**overrides):
    return Settings.from_env({"SPAWNER": "docker"}, **overrides)


def plain(name):
    return {"Name": name, "Driver": "local", "Options": {}, "Mountpoint": f"/v/{name}"}


def placement(**volumes):
    return containers.HubPlacement("school", volumes, "school_users")


def test_a_local_home_volume_is_narrowed_to_the_users_folder():
    mount = containers.home_mount(LOCAL_HOME, "/home", "alice")
    assert mount["Target"] == "/home/alice"
    assert mount["Source"] == "school_jh_home.alice"
    assert mount["VolumeOptions"]["DriverConfig"] == {
        "Name": "local",
        "Options": {"type": "none", "o": "bind", "device": "/var/lib/docker/volumes/school_jh_home/_data/alice"},
    }


def test_an_nfs_home_volume_mounts_the_users_folder_of_the_export():
    options = containers.home_mount(NFS_HOME, "/home", "alice")["VolumeOptions"]["DriverConfig"]["Options"]
    assert options == {"type": "nfs", "o": "addr=10.0.0.5,rw,nfsvers=4", "device": ":/export/home/alice"}


def test_homes_of_another_driver_are_mounted_whole():
    volume = dict(LOCAL_HOME, Driver="rexray", Options={"size": "100"})
    mount = containers.home_mount(volume, "/home", "alice")
    assert (mount["Source"], mount["Target"]) == ("school_jh_home", "/home")
    assert mount["VolumeOptions"]["DriverConfig"] == {"Name": "rexray", "Options": {"size": "100"}}


def test_shared_volumes_carry_their_driver_options_to_other_nodes():
    nfs = dict(NFS_HOME, Name="school_jh_exchange")
    assert containers.volume_mount(nfs, "/x")["VolumeOptions"]["DriverConfig"]["Options"] == NFS_HOME["Options"]
    assert "VolumeOptions" not in containers.volume_mount(plain("school_jh_courses"), "/y")


def test_user_mounts_are_own_home_exchange_courses_and_read_only_names_and_grading_socket():
    where = placement(**{"/home": LOCAL_HOME, "/srv/nbgrader/exchange": plain("ex"),
                         "/srv/nbgrader/courses": plain("co"), containers.NAMES_DIR: plain("na"),
                         containers.GRADING_SOCKET_DIR: plain("gr")})
    mounts = {m["Target"]: m for m in containers.user_mounts(where, settings(), "bob")}
    assert set(mounts) == {"/home/bob", "/srv/nbgrader/exchange", "/srv/nbgrader/courses", "/var/lib/extrausers",
                           "/run/teaching-hub-grading"}
    assert mounts["/var/lib/extrausers"]["ReadOnly"] is True
    assert mounts["/run/teaching-hub-grading"]["ReadOnly"] is True
    assert mounts["/srv/nbgrader/exchange"]["ReadOnly"] is False


def test_a_hub_without_the_docker_volumes_is_told_which_ones_and_how():
    with pytest.raises(SystemExit, match=r"no volume at /srv/jupyterhub/names, /run/teaching-hub-grading; start the hub with both compose files"):
        containers.check_placement(
            placement(**{"/home": LOCAL_HOME, "/srv/nbgrader/exchange": plain("ex"),
                         "/srv/nbgrader/courses": plain("co")}),
            settings(),
        )


def test_the_users_network_is_the_hubs_network_named_users():
    assert containers.users_network(settings(), ["school_default", "school_users"]) == "school_users"
    with pytest.raises(SystemExit, match=r"exactly one network named \*_users \(it is on: bridge\)"):
        containers.users_network(settings(), ["bridge"])
    with pytest.raises(SystemExit, match="USER_NETWORK=other: the hub is not on that network"):
        containers.users_network(settings(user_network="other"), ["school_users"])


def test_published_names_hold_hub_users_and_groups_but_no_password(tmp_path):
    etc, names = tmp_path / "etc", tmp_path / "names"
    etc.mkdir(), names.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\nalice:x:2000:2000::/home/alice:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\nalice:x:2000:\nnbgrader-algebra:x:2001:alice\n")
    (etc / "shadow").write_text("alice:$6$secret:1::::::\n")
    containers.publish_names(settings(), etc=str(etc), names_dir=str(names))
    assert (names / "passwd").read_text() == "alice:x:2000:2000::/home/alice:/bin/bash\n"
    assert (names / "group").read_text() == "alice:x:2000:\nnbgrader-algebra:x:2001:alice\n"
    assert sorted(os.listdir(names)) == ["group", "passwd"]
    assert oct((names / "passwd").stat().st_mode & 0o777) == "0o644"


def test_an_unknown_spawner_is_refused_with_the_choices():
    with pytest.raises(SystemExit, match="SPAWNER='kubernetes': must be one of local, docker, swarm"):
        Settings.from_env({"SPAWNER": "kubernetes"}).spawner_mode


def test_users_containers_logs_are_rotated_at_the_hubs_size():
    assert containers.log_options(settings(log_max_size="1m")) == {"max-size": "1m", "max-file": "3"}
    assert containers.log_options(Settings.from_env({}))["max-size"] == "10m"


@pytest.mark.parametrize("api, privileges", [("1.41", None), ("1.43", None), ("1.44", {"NoNewPrivileges": True}),
                                             ("1.51", {"NoNewPrivileges": True})])
def test_swarm_services_get_no_new_privileges_where_the_engine_knows_it(api, privileges):
    assert containers.swarm_privileges(api) == privileges
