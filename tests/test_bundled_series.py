"""The bundled series, without a kernel tree: valid data, canonical form, and the end state the issue asks for."""

from __future__ import annotations

import re

from patchkit.series.dump import series_yaml
from patchkit.series.load import load_series
from tests.helpers import REPO_ROOT

SERIES_DIR = REPO_ROOT / "series" / "tdx"


def test_series_yaml_is_in_the_canonical_form_import_writes() -> None:
    # Otherwise the apply -> import round trip on the real tree cannot be byte-identical.
    series = load_series(SERIES_DIR)
    assert series_yaml(series) == (SERIES_DIR / "series.yaml").read_text(encoding="utf-8")


def test_ten_mailed_patches_one_overlay_and_three_configs() -> None:
    series = load_series(SERIES_DIR)
    assert len(series.mailed_patches) == 10
    assert [p.subject for p in series.overlay_patches] == ["x86/virt/tdx: Add a boot-time SEAMCALL probe (test only)"]
    assert [c.name for c in series.configs] == ["guest", "host", "off"]
    host = next(c for c in series.configs if c.name == "host")
    assert host.boot.cmdline == "tdx_seamcall_probe"
    assert any(re.search(expect, "tdx-probe: seamcall returned 0x8000ff0000000006") for expect in host.boot.expect)
    for patch in series.mailed_patches:
        assert re.match(r"^x86/(virt/)?tdx: [A-Z]", patch.subject), patch.subject
        assert f"Signed-off-by: {patch.author.ident()}" in patch.trailers
