"""The Linux installer scripts on a fake bundle in a fake home: what install puts where (menu entry,
icon, DICOM type, launcher, the desktop caches), and that uninstall removes exactly that."""

from __future__ import annotations

import configparser
import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

LINUX = Path(__file__).resolve().parents[1] / "installer" / "linux"
pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")


def listing(root: Path) -> dict[str, str]:
    """Every path under ``root`` (links not followed) with its content hash, link target or "dir"."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            out[key] = "-> " + os.readlink(path)
        elif path.is_dir():
            out[key] = "dir"
        else:
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A stand-in for the built bundle: an executable and a nested library folder."""
    folder = tmp_path / "dist" / "camviewer"
    (folder / "_internal" / "torch").mkdir(parents=True)
    (folder / "_internal" / "torch" / "libtorch.so").write_bytes(b"\x7fELF")
    program = folder / "camviewer"
    program.write_text("#!/bin/sh\necho camviewer \"$@\"\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home that already has other applications and binaries, which must stay untouched."""
    home = tmp_path / "home"
    (home / ".local" / "share" / "applications").mkdir(parents=True)
    (home / ".local" / "share" / "applications" / "other.desktop").write_text("[Desktop Entry]\nName=other\n")
    (home / ".local" / "bin").mkdir()
    (home / ".local" / "bin" / "other").write_text("#!/bin/sh\n")
    (home / "notes.txt").write_text("mine")
    return home


def run(script: str, home: Path, *args: str, tools: Path | None = None) -> subprocess.CompletedProcess[str]:
    path = f"{tools}:/usr/bin:/bin" if tools else "/usr/bin:/bin"
    env = {"HOME": str(home), "PATH": path, "LANG": "C.UTF-8"}
    return subprocess.run(["sh", str(LINUX / script), *args], env=env, capture_output=True, text=True, timeout=120)


def fake_cache_tools(folder: Path) -> Path:
    """update-desktop-database and gtk-update-icon-cache stand-ins that write the cache files they own."""
    folder.mkdir()
    for name, cache in (("update-desktop-database", "mimeinfo.cache"), ("gtk-update-icon-cache", "icon-theme.cache")):
        tool = folder / name
        tool.write_text(f'#!/bin/sh\nfor last; do :; done\necho generated > "$last/{cache}"\n')
        tool.chmod(0o755)
    return folder


def test_install_puts_the_bundle_the_menu_entry_and_the_file_type_in_the_home(bundle: Path, home: Path) -> None:
    done = run("install.sh", home, str(bundle))
    assert done.returncode == 0, done.stderr
    share = home / ".local" / "share"
    program = share / "camviewer" / "bundle" / "camviewer"
    assert os.access(program, os.X_OK) and (share / "camviewer" / "bundle" / "_internal" / "torch" / "libtorch.so").is_file()
    launcher = home / ".local" / "bin" / "camviewer"
    assert launcher.is_symlink() and launcher.resolve() == program.resolve()
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(share / "applications" / "camviewer.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Exec"] == f'"{program}" %F' and desktop["TryExec"] == str(program) and desktop["Icon"] == "camviewer"
    assert "application/dicom" in desktop["MimeType"].split(";") and desktop["Terminal"] == "false"
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "camviewer.svg").read_text().startswith("<svg")
    assert "*.dcm" in (share / "mime" / "packages" / "camviewer-dicom.xml").read_text()
    if shutil.which("desktop-file-validate"):
        assert subprocess.run(["desktop-file-validate", str(share / "applications" / "camviewer.desktop")]).returncode == 0
    again = run("install.sh", home, str(bundle))
    assert again.returncode == 1 and "already installed" in again.stderr


@pytest.mark.parametrize("with_tools", [False, True], ids=["no-cache-tools", "cache-tools"])
def test_uninstall_removes_exactly_what_install_added(bundle: Path, home: Path, tmp_path: Path, with_tools: bool) -> None:
    tools = fake_cache_tools(tmp_path / "tools") if with_tools else None
    before = listing(home)
    assert run("install.sh", home, str(bundle), tools=tools).returncode == 0
    added = set(listing(home)) - set(before)
    assert ".local/share/applications/camviewer.desktop" in added
    if with_tools:
        assert {".local/share/applications/mimeinfo.cache", ".local/share/icons/hicolor/icon-theme.cache"} <= added
    manifest = home / ".local" / "share" / "camviewer" / "installed-files"
    assert {str(Path(p).relative_to(home)) for p in manifest.read_text().splitlines()} == added
    done = run("uninstall.sh", home, tools=tools)
    assert done.returncode == 0, done.stderr
    assert listing(home) == before
    assert run("uninstall.sh", home).returncode == 1


def test_install_refuses_a_folder_without_the_program(home: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    before = listing(home)
    done = run("install.sh", home, str(tmp_path / "empty"))
    assert done.returncode == 1 and "no camviewer executable" in done.stderr and listing(home) == before


def test_a_failed_install_leaves_nothing_behind(bundle: Path, home: Path) -> None:
    blocker = home / ".local" / "share" / "mime" / "packages"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where install needs a folder")
    before = listing(home)
    done = run("install.sh", home, str(bundle))
    assert done.returncode != 0 and "nothing was left installed" in done.stderr
    assert listing(home) == before
