"""Image builds: which archive the base comes from, which images a plain `dsgym sandbox build` makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgym.sandbox import images

UBUNTU_DEB822 = """\
Types: deb
URIs: http://archive.example.test/ubuntu/
Suites: noble noble-updates noble-backports
Components: main restricted universe multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg

Types: deb
URIs: http://security.example.test/ubuntu/
Suites: noble-security
Components: main restricted universe multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
"""

UBUNTU_ONE_LINE = """\
deb [arch=amd64] http://mirror.example.test/ubuntu jammy main restricted
deb http://mirror.example.test/ubuntu jammy-updates main restricted
deb http://security.example.test/ubuntu jammy-security main
"""

PORTS_ONE_LINE = "deb http://ports.example.test/ubuntu-ports noble main universe\n"


def sources(tmp_path: Path, *, list_text: str = "", deb822: str = "") -> Path:
    (tmp_path / "sources.list.d").mkdir(parents=True)
    if list_text:
        (tmp_path / "sources.list").write_text(list_text)
    if deb822:
        (tmp_path / "sources.list.d" / "ubuntu.sources").write_text(deb822)
    return tmp_path


def test_ubuntu_deb822_sources_pick_the_ubuntu_mirror_and_release(tmp_path):
    found = images.debian_source(sources(tmp_path, deb822=UBUNTU_DEB822))
    assert found == images.AptSource("http://archive.example.test/ubuntu", "noble",
                                     ("main", "restricted", "universe", "multiverse"))


def test_ubuntu_one_line_sources_pick_the_ubuntu_mirror_and_release(tmp_path):
    found = images.debian_source(sources(tmp_path, list_text=UBUNTU_ONE_LINE))
    assert found == images.AptSource("http://mirror.example.test/ubuntu", "jammy", ("main", "restricted"))
    ports = images.debian_source(sources(tmp_path / "ports", list_text=PORTS_ONE_LINE))
    assert (ports.uri, ports.suite) == ("http://ports.example.test/ubuntu-ports", "noble")


def test_no_archive_names_the_flags_that_exist(tmp_path):
    with pytest.raises(images.ImageBuildError, match="pass --mirror and --debian-suite"):
        images.debian_source(sources(tmp_path, list_text="deb http://example.test/other stable main\n"))


def test_a_plain_build_makes_the_quick_starts_images_and_predict_waits_for_a_suite():
    assert images.default_build() == ["default", "bio"]
    assert set(images.image_names()) - set(images.default_build()) == {"predict", "official-analysis", "official-bio",
                                                                       "official-kaggle"}


def test_the_base_repo_can_be_named_so_a_test_leaves_the_shared_base_alone(monkeypatch):
    shared = images.base_image_tag("bookworm")
    monkeypatch.setenv("DSGYM_BASE_REPO", "dsgym-base-throwaway")
    assert images.base_image_tag("bookworm") == "dsgym-base-throwaway:" + shared.split(":", 1)[1]
