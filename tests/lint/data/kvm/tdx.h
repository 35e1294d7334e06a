/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A TD vCPU as KVM keeps it (written for patchkit's lint tests, in the shape of
 * upstream KVM's TDX code): the registers TDH.VP.ENTER takes and gives back
 * live in a struct tdx_module_args member, which the exit handlers read and
 * write by name.
 */
#ifndef __KVM_X86_VMX_TDX_H
#define __KVM_X86_VMX_TDX_H

#include <linux/kvm_host.h>
#include <asm/tdx.h>

#define TDH_VP_ENTER			0

#define TDVMCALL_GET_TD_VM_CALL_INFO	0x10000
#define TDVMCALL_STATUS_SUCCESS		0x0000000000000000ULL
#define TDVMCALL_STATUS_INVALID_OPERAND	0x8000000000000000ULL

struct vcpu_tdx {
	struct kvm_vcpu vcpu;
	u64 tdvpr_pa;
	u64 vp_enter_ret;
	u64 exit_qual;
	u64 ext_exit_qual;
	u64 exit_gpa;
	u64 exit_intr_info;
	/* in: the TDVMCALL results; out: what the guest asked for */
	struct tdx_module_args vp_enter_args;
};

static __always_inline struct vcpu_tdx *to_tdx(struct kvm_vcpu *vcpu)
{
	return container_of(vcpu, struct vcpu_tdx, vcpu);
}

/* TDH.VP.ENTER takes the TD's registers in @args and gives them back there. */
static __always_inline u64 tdh_vp_enter(u64 tdvpr, struct tdx_module_args *args)
{
	args->rcx = tdvpr;
	return __seamcall_saved_ret(TDH_VP_ENTER, args);
}

int tdx_handle_exit(struct kvm_vcpu *vcpu, u32 reason);
int tdx_complete_msr(struct kvm_vcpu *vcpu, int err);
void tdx_vcpu_enter_exit(struct kvm_vcpu *vcpu);

#endif /* __KVM_X86_VMX_TDX_H */
