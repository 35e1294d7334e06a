"""lint.yaml: each rule's options where the rule is named (project ABI translations with halves, by what the
code handles or by a scope, the clear-before-return mode), the pack's under its name; malformed
settings are data errors naming the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchkit.errors import DataError
from patchkit.lint.config import load_config
from patchkit.lint.engine import lint_files
from patchkit.lint.rules.tdx.pack import PACK

ARGS_H = "struct tdx_module_args { u64 rcx; u64 rdx; u64 r10; u64 r11; u64 r12; u64 r13; };\n"
KVM_C = """struct vcpu_tdx { struct tdx_module_args vp_enter_args; };
static int tdx_emulate_vmcall(struct kvm_vcpu *vcpu, struct vcpu_tdx *tdx)
{
	kvm_rax_write(vcpu, tdx->vp_enter_args.r10);
	return __kvm_emulate_hypercall(vcpu, 0, NULL);
}
static void tdx_hypercall_guess(struct kvm_vcpu *vcpu, struct vcpu_tdx *tdx)
{
	kvm_rax_write(vcpu, tdx->vp_enter_args.r10);
}
static int my_split(struct kvm_vcpu *vcpu, struct vcpu_tdx *tdx)
{
	kvm_rcx_write(vcpu, tdx->vp_enter_args.r11 >> 32);
	return my_emulate(vcpu);
}
static void ours_enter(struct kvm_vcpu *vcpu, struct vcpu_tdx *tdx)
{
	tdx->vp_enter_args.r12 = kvm_rdi_read(vcpu);
}
"""


def _copies(tmp_path: Path, lint_yaml: str | None) -> list[str]:
    if lint_yaml is not None:
        (tmp_path / "lint.yaml").write_text(lint_yaml)
    files = {"arch/x86/include/asm/shared/tdx.h": ARGS_H, "arch/x86/kvm/vmx/tdx.c": KVM_C}
    hits = lint_files(files, load_config(tmp_path))
    return [h.message for h in hits if h.rule == "tdx/vcpu-regs-copy"]


def test_the_shipped_translations_hold_where_the_code_handles_their_exit_not_by_function_name(
    tmp_path: Path,
) -> None:
    messages = _copies(tmp_path, None)
    assert len(messages) == 3, messages
    assert any("tdx_hypercall_guess handles none of these" in m for m in messages)
    assert any("tdx_module_args.r11 (high 32 bits) -> vcpu RCX" in m for m in messages)
    assert any("vcpu RDI -> tdx_module_args.r12" in m for m in messages)


def test_a_project_translation_by_what_the_code_handles_and_one_by_function_name(tmp_path: Path) -> None:
    messages = _copies(
        tmp_path,
        "rules:\n"
        "  tdx/vcpu-regs-copy:\n"
        "    abi_translations:\n"
        "    - name: my split\n"
        "      splits: {r11: {high: rcx}}\n"
        "      handles: [my_emulate]\n"
        "    - name: our own call ABI\n"
        "      pairs: {r12: rdi}\n"
        "      scope: {functions: ['ours_*']}\n",
    )
    assert len(messages) == 1 and "tdx_hypercall_guess handles none of these" in messages[0], messages


COPY = "rules:\n  tdx/vcpu-regs-copy:\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "rules:\n  tdx/clear-before-return: {mode: sometimes}\n",
            "lint.yaml:2: rules.'tdx/clear-before-return'.mode: 'sometimes' is not one of",
        ),
        (
            COPY + "    abi_translations: [{name: x, pairs: {r8: rdi}, scope: {names: [x]}}]\n",
            "lint.yaml:3: rules.'tdx/vcpu-regs-copy'.abi_translations[0].scope.names: unknown key (allowed: args, "
            "functions)",
        ),
        (
            COPY + "    abi_translations: [{name: x}]\n",
            "lint.yaml:3: rules.'tdx/vcpu-regs-copy'.abi_translations[0]: {'name': 'x'} is not valid",
        ),
        (
            COPY + "    abi_translations:\n    - name: x\n      splits:\n        r13: {middle: rax}\n",
            "lint.yaml:6: rules.'tdx/vcpu-regs-copy'.abi_translations[0].splits.r13.middle: unknown key "
            "(allowed: high, low)",
        ),
        (
            "rules:\n  tdx/clear-before-return: {macros: {TDX_MODULE_CALL: 'saved and and ret'}}\n",
            "lint.yaml:2: rules.'tdx/clear-before-return'.macros: TDX_MODULE_CALL: 'saved and and ret' is not a "
            "condition",
        ),
        (  # a rule without options has no entry; the error names the rules that have some
            "rules:\n  tdx/field-exists: {colour: red}\n",
            "lint.yaml:2: rules.'tdx/field-exists': unknown key (allowed: hygiene/body-wrap, hygiene/subject-length, "
            "tdx/clear-before-return, tdx/copy-out-complete, tdx/mov-register-matches-offset, tdx/spec-constants, "
            "tdx/sti-before-tdcall, tdx/vcpu-regs-copy)",
        ),
        (
            "rules:\n  tdx/vcpu-regs-copy: {colour: red}\n",
            "lint.yaml:2: rules.'tdx/vcpu-regs-copy'.colour: unknown key",
        ),
        ("rules:\n  tdx/no-such-rule: {}\n", "lint.yaml:2: rules.'tdx/no-such-rule': unknown key"),
        ("packs:\n  tdx: {search_paths: a}\n", "lint.yaml:2: packs.tdx.search_paths: expected array, got str"),
        ("packs: {tdx: {search_paths: [a]}}\npacks: {}\n", "lint.yaml:2: duplicate key 'packs'"),
        ("disable: !!python/name:os.system x\n", "lint.yaml:1: YAML tag"),
        ("disable: [tdx/no-such-rule]\n", "lint.yaml:1: disable[0]: tdx/no-such-rule names no rule"),
        ("colour: red\n", "lint.yaml:1: colour: unknown key (allowed: disable, packs, rules)"),
        (
            "abi_translations: []\n",
            "lint.yaml:1: abi_translations: an option of rule tdx/vcpu-regs-copy; write it under "
            "'rules: {tdx/vcpu-regs-copy: {abi_translations: ...}}'",
        ),
        (
            "\nsearch_paths: [a]\n",
            "lint.yaml:2: search_paths: an option of pack tdx; write it under 'packs: {tdx: {search_paths: ...}}'",
        ),
    ],
)
def test_malformed_settings_are_data_errors(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "lint.yaml").write_text(text)
    with pytest.raises(DataError, match=r"lint\.yaml") as caught:
        load_config(tmp_path)
    assert says in str(caught.value)


def test_clear_mode_off_checks_only_the_listed_variants(tmp_path: Path) -> None:
    tdxcall = (
        ".macro TDX_MODULE_CALL host:req\n\tmovq TDX_MODULE_rcx(%rsi), %rcx\n\tmovq TDX_MODULE_rdx(%rsi), %rdx\n"
        "\ttdcall\n\txorl %ecx, %ecx\n.endm\n"
    )
    files = {"arch/x86/virt/vmx/tdx/tdxcall.S": tdxcall}
    default = [h for h in lint_files(files, load_config(None)) if h.rule == "tdx/clear-before-return"]
    assert default and "%rdx still holds" in default[0].message
    (tmp_path / "lint.yaml").write_text("rules:\n  tdx/clear-before-return: {mode: 'off'}\n")
    assert [h for h in lint_files(files, load_config(tmp_path)) if h.rule == "tdx/clear-before-return"] == []


def test_an_args_struct_added_in_lint_yaml_is_reported_where_it_cannot_be_parsed(tmp_path: Path) -> None:
    files = {"drivers/virt/mine.c": "void f(void) { struct my_call_args args = { .r10 = 1 ] ; }\n"}
    assert [h for h in lint_files(files, load_config(None)) if h.rule == "parse/unparsed-construct"] == []
    (tmp_path / "lint.yaml").write_text("packs:\n  tdx: {args_structs: {my_call_args: MINE}}\n")
    config = load_config(tmp_path)
    hits = [h.message for h in lint_files(files, config) if h.rule == "parse/unparsed-construct"]
    assert any("'my_call_args' is inside a construct tree-sitter could not parse" in m for m in hits), hits
    selection = PACK.selection(config)
    assert "my_call_args" in selection.words and "TDX_MINE_" in selection.words
    assert "tdx_module_args" in selection.words  # added to the shipped args structs, not instead of them
    assert selection.pattern.search("movq TDX_MINE_r10(%rdi), %r10")


def test_defaults_and_a_project_value_combine_as_each_option_says(tmp_path: Path) -> None:
    """abi_translations and the clearing macros are added to the shipped ones; search_paths and tdvmcall_scope
    replace theirs."""
    (tmp_path / "lint.yaml").write_text(
        "packs:\n  tdx: {search_paths: [arch/x86/, include/linux/]}\n"
        "rules:\n  tdx/clear-before-return: {macros: {MY_CALL: ret}}\n"
        "  hygiene/subject-length: {max_length: 60}\n"
    )
    from patchkit.lint.rules.hygiene.subject_length import MAX_LENGTH
    from patchkit.lint.rules.tdx.clear_before_return import MACROS
    from patchkit.lint.rules.tdx.facts import SEARCH_PATHS

    config = load_config(tmp_path)
    assert config[SEARCH_PATHS] == ("arch/x86/", "include/linux/")
    assert config[MACROS] == {"TDX_MODULE_CALL": "saved and ret", "MY_CALL": "ret"}
    assert config[MAX_LENGTH] == 60
    assert load_config(None)[MAX_LENGTH] == 75
