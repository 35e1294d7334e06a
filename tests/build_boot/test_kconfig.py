"""Fragments and option checks (no kernel tree needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchkit.errors import DataError
from patchkit.kbuild import kconfig
from tests.helpers import GitTree


def test_parse_config_reads_values_and_not_set_lines() -> None:
    text = 'CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\n# a comment\nCONFIG_D=m\n'
    assert kconfig.parse_config_text(text) == {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": '"x y"', "CONFIG_D": "m"}


def test_fragment_with_a_bad_line_names_file_and_line(tmp_path: Path) -> None:
    fragment = tmp_path / "guest.config"
    fragment.write_text("CONFIG_A=y\nINTEL_TDX_GUEST=y\n")
    with pytest.raises(DataError, match=r"guest.config:2: not a kconfig line"):
        kconfig.read_fragment(fragment, str(fragment))


def test_mismatches_lists_what_did_not_end_up_set() -> None:
    wanted = {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": "y"}
    config = {"CONFIG_A": "y", "CONFIG_C": "n"}
    found = kconfig.mismatches(wanted, config)
    assert [m.describe() for m in found] == ["CONFIG_C=y (got CONFIG_C=n)"]


def test_kconfig_changes_are_recognised_by_file_name() -> None:
    assert kconfig.kconfig_changed(["arch/x86/Kconfig"])
    assert kconfig.kconfig_changed(["arch/x86/Kconfig.cpu", "init/main.c"])
    assert not kconfig.kconfig_changed(["arch/x86/virt/Makefile", "Documentation/kbuild/kconfig.rst"])


def test_defined_symbols_reads_the_kconfig_files_of_a_commit(small_tree: GitTree) -> None:
    from patchkit.tree.repo import KernelTree

    kconfig_text = "config X86\n\tdef_bool y\n\nmenuconfig INTEL_TDX_GUEST\n\tbool\n"
    small_tree.commit("kconfig", {"arch/x86/Kconfig": kconfig_text})
    tree = KernelTree(small_tree.path)
    found = kconfig.defined_symbols(tree, "HEAD", ["CONFIG_INTEL_TDX_GUEST", "CONFIG_INTEL_TDX_HOST", "CONFIG_X86"])
    assert found == {"CONFIG_INTEL_TDX_GUEST", "CONFIG_X86"}
    assert kconfig.defined_symbols(tree, "patchkit-base", ["CONFIG_X86"]) == set()


def test_options_a_later_patch_introduces_are_tolerated_only_before_since() -> None:
    host = kconfig.OptionMismatch("CONFIG_INTEL_TDX_HOST", "y", "n")
    kvm = kconfig.OptionMismatch("CONFIG_KVM_INTEL", "y", "n")
    # Before patch 9 INTEL_TDX_HOST does not exist: fine; KVM_INTEL exists but is off: an error.
    tolerated, errors = kconfig.split_by_since([host, kvm], {"CONFIG_KVM_INTEL"}, state_index=3, since=9)
    assert tolerated == [host] and errors == [kvm]
    # From patch 9 on, a missing definition is an error too.
    tolerated, errors = kconfig.split_by_since([host], set(), state_index=9, since=9)
    assert tolerated == [] and errors == [host]
