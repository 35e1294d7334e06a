"""Parsing make's output: warnings as data, error excerpts (captured text, no compiler needed)."""

from __future__ import annotations

from patchkit.kbuild.diagnostics import error_excerpt, first_error_line, parse_warnings, relative_path

SRC = "/cache/patchkit/work/tdx/src"
OUT = "/cache/patchkit/work/tdx/out/guest"

GCC_FAILURE = """\
  CC      arch/x86/coco/tdx/tdx.o
../../src/arch/x86/coco/tdx/tdx.c: In function 'tdx_parse_tdinfo':
../../src/arch/x86/coco/tdx/tdx.c:111:31: error: 'patchkit_undeclared' undeclared (first use in this function)
  111 |         u64 patchkit_broken = patchkit_undeclared;
      |                               ^~~~~~~~~~~~~~~~~~~
../../src/arch/x86/coco/tdx/tdx.c:111:31: note: each undeclared identifier is reported only once for each function
../../src/arch/x86/coco/tdx/tdx.c:110:13: warning: unused variable 'patchkit_unused' [-Wunused-variable]
  110 |         int patchkit_unused;
      |             ^~~~~~~~~~~~~~~
make[4]: *** [/cache/patchkit/work/tdx/src/scripts/Makefile.build:250: arch/x86/coco/tdx/tdx.o] Error 1
make[3]: *** [/cache/patchkit/work/tdx/src/scripts/Makefile.build:500: arch/x86/coco/tdx] Error 2
"""


def test_warning_paths_become_tree_relative_whatever_form_make_prints() -> None:
    text = (
        "../../src/arch/x86/coco/tdx/tdx.c:110:13: warning: unused variable 'x' [-Wunused-variable]\n"
        f"{SRC}/include/linux/kernel.h:5: warning: \x1b[01;35mcolour\x1b[m survives [-Wfoo]\n"
        "vmlinux.o: warning: objtool: tdx_handler+0x12: call to foo() leaves .noinstr.text section\n"
    )
    warnings = parse_warnings(text, SRC, OUT)
    assert [(w.file, w.line, w.flag) for w in warnings] == [
        ("arch/x86/coco/tdx/tdx.c", 110, "-Wunused-variable"),
        ("include/linux/kernel.h", 5, "-Wfoo"),
        ("vmlinux.o", 0, ""),
    ]
    assert warnings[1].message == "colour survives"
    assert warnings[2].message.startswith("objtool: tdx_handler")


def test_a_header_warning_repeated_per_includer_counts_once() -> None:
    line = "../../src/arch/x86/include/asm/tdx.h:20:1: warning: no newline [-Wnewline-eof]\n"
    assert len(parse_warnings(line * 5, SRC, OUT)) == 1


def test_the_warning_key_ignores_the_line_number() -> None:
    a = parse_warnings("../../src/a.c:10:1: warning: unused variable 'x' [-Wunused-variable]\n", SRC, OUT)[0]
    b = parse_warnings("../../src/a.c:12:1: warning: unused variable 'x' [-Wunused-variable]\n", SRC, OUT)[0]
    assert a.key == b.key and a.line != b.line


def test_error_excerpt_starts_at_the_function_context_and_stops_at_make() -> None:
    excerpt = error_excerpt(GCC_FAILURE, SRC, OUT)
    lines = excerpt.splitlines()
    assert lines[0] == "arch/x86/coco/tdx/tdx.c: In function 'tdx_parse_tdinfo':"
    assert "error: 'patchkit_undeclared' undeclared" in lines[1]
    assert not any(line.startswith("make[") for line in lines)
    assert "../../src" not in excerpt
    assert first_error_line(excerpt).startswith("arch/x86/coco/tdx/tdx.c:111:31: error: 'patchkit_undeclared'")


def test_linker_errors_are_excerpted_too() -> None:
    text = (
        "  LD      vmlinux.o\n"
        "ld: vmlinux.o: in function `tdx_early_init':\n"
        "tdx.c:(.text+0x5): undefined reference to `__tdcall'\n"
        "make[1]: *** [Makefile:1250: vmlinux] Error 1\n"
    )
    excerpt = error_excerpt(text, SRC, OUT)
    assert "undefined reference to `__tdcall'" in excerpt
    assert first_error_line(excerpt).startswith("ld: vmlinux.o")


def test_without_a_recognised_error_the_lines_before_make_gave_up_are_shown() -> None:
    text = "  GEN     something\nscript went wrong in a new way\nmake[2]: *** [Makefile:1: x] Error 1\n"
    excerpt = error_excerpt(text, SRC, OUT)
    assert "script went wrong in a new way" in excerpt


def test_paths_outside_the_trees_are_left_alone() -> None:
    assert relative_path("/usr/include/stdio.h", SRC, OUT) == "/usr/include/stdio.h"
    assert relative_path("arch/x86/kernel/asm-offsets.s", SRC, OUT) == "arch/x86/kernel/asm-offsets.s"
