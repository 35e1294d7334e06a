// SPDX-License-Identifier: GPL-2.0
/*
 * TD exits (written for patchkit's lint tests, in the shape of upstream KVM's
 * TDX code): enter the TD with TDH.VP.ENTER, then hand what a TDVMCALL asked
 * for to KVM's own emulation, translating registers between the TDVMCALL ABI
 * (R10-R15) and the ABIs KVM's handlers take. This file reaches the args
 * struct only through the vCPU struct's member, declared in tdx.h.
 */
#include <linux/kvm_host.h>
#include "../kvm_cache_regs.h"
#include "../x86.h"
#include "tdx.h"

/* The TDVMCALL's class (R10) and leaf (R11), and where its status and value go back. */
static __always_inline u64 tdvmcall_exit_type(struct kvm_vcpu *vcpu)
{
	return to_tdx(vcpu)->vp_enter_args.r10;
}

static __always_inline u64 tdvmcall_leaf(struct kvm_vcpu *vcpu)
{
	return to_tdx(vcpu)->vp_enter_args.r11;
}

static __always_inline void tdvmcall_set_return_code(struct kvm_vcpu *vcpu, u64 code)
{
	to_tdx(vcpu)->vp_enter_args.r10 = code;
}

static __always_inline void tdvmcall_set_return_val(struct kvm_vcpu *vcpu, u64 val)
{
	to_tdx(vcpu)->vp_enter_args.r11 = val;
}

noinstr void tdx_vcpu_enter_exit(struct kvm_vcpu *vcpu)
{
	struct vcpu_tdx *tdx = to_tdx(vcpu);

	tdx->vp_enter_ret = tdh_vp_enter(tdx->tdvpr_pa, &tdx->vp_enter_args);

	/* what the TD exit left in the registers the module hands back */
	tdx->exit_qual = tdx->vp_enter_args.rcx;
	tdx->ext_exit_qual = tdx->vp_enter_args.rdx;
	tdx->exit_gpa = tdx->vp_enter_args.r8;
	tdx->exit_intr_info = tdx->vp_enter_args.r9;
}

static int tdx_hypercall_done(struct kvm_vcpu *vcpu)
{
	tdvmcall_set_return_code(vcpu, vcpu->run->hypercall.ret);
	return 1;
}

/* A KVM hypercall made with TDVMCALL: R10-R14 become RAX, RBX, RCX, RDX, RSI. */
static int tdx_emulate_vmcall(struct kvm_vcpu *vcpu)
{
	kvm_rax_write(vcpu, to_tdx(vcpu)->vp_enter_args.r10);
	kvm_rbx_write(vcpu, to_tdx(vcpu)->vp_enter_args.r11);
	kvm_rcx_write(vcpu, to_tdx(vcpu)->vp_enter_args.r12);
	kvm_rdx_write(vcpu, to_tdx(vcpu)->vp_enter_args.r13);
	kvm_rsi_write(vcpu, to_tdx(vcpu)->vp_enter_args.r14);

	return __kvm_emulate_hypercall(vcpu, 0, tdx_hypercall_done);
}

/* CPUID: leaf and subleaf in R12 and R13, the four results back in R12-R15. */
static int tdx_emulate_cpuid(struct kvm_vcpu *vcpu)
{
	struct vcpu_tdx *tdx = to_tdx(vcpu);
	u32 eax = tdx->vp_enter_args.r12, ebx, ecx = tdx->vp_enter_args.r13, edx;

	kvm_cpuid(vcpu, &eax, &ebx, &ecx, &edx, false);

	tdx->vp_enter_args.r12 = eax;
	tdx->vp_enter_args.r13 = ebx;
	tdx->vp_enter_args.r14 = ecx;
	tdx->vp_enter_args.r15 = edx;
	return 1;
}

/* After KVM emulated RDMSR, EDX:EAX goes back in R11. */
int tdx_complete_msr(struct kvm_vcpu *vcpu, int err)
{
	if (err) {
		tdvmcall_set_return_code(vcpu, TDVMCALL_STATUS_INVALID_OPERAND);
		return 1;
	}

	if (vmx_get_exit_reason(vcpu).basic == EXIT_REASON_MSR_READ)
		tdvmcall_set_return_val(vcpu, kvm_read_edx_eax(vcpu));

	return 1;
}

static int tdx_get_td_vm_call_info(struct kvm_vcpu *vcpu)
{
	struct vcpu_tdx *tdx = to_tdx(vcpu);

	if (tdx->vp_enter_args.r12) {
		tdvmcall_set_return_code(vcpu, TDVMCALL_STATUS_INVALID_OPERAND);
		return 1;
	}
	tdx->vp_enter_args.r11 = 0;
	tdx->vp_enter_args.r12 = 0;
	tdx->vp_enter_args.r13 = 0;
	tdx->vp_enter_args.r14 = 0;
	tdvmcall_set_return_code(vcpu, TDVMCALL_STATUS_SUCCESS);
	return 1;
}

static int handle_tdvmcall(struct kvm_vcpu *vcpu)
{
	switch (tdvmcall_leaf(vcpu)) {
	case TDVMCALL_GET_TD_VM_CALL_INFO:
		return tdx_get_td_vm_call_info(vcpu);
	default:
		break;
	}

	tdvmcall_set_return_code(vcpu, TDVMCALL_STATUS_INVALID_OPERAND);
	return 1;
}

int tdx_handle_exit(struct kvm_vcpu *vcpu, u32 reason)
{
	struct vcpu_tdx *tdx = to_tdx(vcpu);

	if (reason == EXIT_REASON_TDCALL && tdvmcall_exit_type(vcpu))
		reason = EXIT_REASON_VMCALL;

	switch (reason) {
	case EXIT_REASON_TDCALL:
		return handle_tdvmcall(vcpu);
	case EXIT_REASON_VMCALL:
		return tdx_emulate_vmcall(vcpu);
	case EXIT_REASON_CPUID:
		return tdx_emulate_cpuid(vcpu);
	case EXIT_REASON_MSR_READ:
		/* TDVMCALL<RDMSR>: the MSR index comes in R12, KVM wants it in ECX */
		kvm_rcx_write(vcpu, tdx->vp_enter_args.r12);
		return kvm_emulate_rdmsr(vcpu);
	case EXIT_REASON_MSR_WRITE:
		/* TDVMCALL<WRMSR>: index in R12, the value in R13; KVM takes ECX and EDX:EAX */
		kvm_rcx_write(vcpu, tdx->vp_enter_args.r12);
		kvm_rax_write(vcpu, tdx->vp_enter_args.r13 & -1u);
		kvm_rdx_write(vcpu, tdx->vp_enter_args.r13 >> 32);
		return kvm_emulate_wrmsr(vcpu);
	default:
		break;
	}

	vcpu->run->exit_reason = KVM_EXIT_UNKNOWN;
	return 0;
}
