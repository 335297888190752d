// The stub code: copied to the top of every stub process's address space and
// the only code in it that may make host syscalls (the stub's seccomp filter
// checks the instruction pointer). Position independent: only relative jumps
// inside the blob. The sentry drives it with ptrace; it never runs on its own
// except in the pause loop.
#include <asm/unistd.h>

	.section .rodata.cv_stub, "a"
	.p2align 6

	.globl cv_stub_begin
cv_stub_begin:

// Injection site: the tracer sets rax/rdi/rsi/rdx/r10/r8/r9, points rip here
// and continues; the int3 hands control back with the result in rax.
	.globl cv_stub_inject
cv_stub_inject:
	syscall
	int3
	.globl cv_stub_inject_done
cv_stub_inject_done:
	ud2

// Clone site: as the injection site, but the new task (rax == 0) does not
// trap. It asks to be killed when its parent thread (the sentry's factory
// thread) dies -- clone clears that setting -- and exits at once if the
// sentry (whose pid the tracer put in r12) is already gone; then it sleeps
// in the pause loop, untraced, until its owner seizes it. Doing this here
// rather than by injection leaves no window in which a dying sentry could
// leave an untraced stub behind.
	.globl cv_stub_clone
cv_stub_clone:
	syscall
	test	%rax, %rax
	jz	1f
	int3
	.globl cv_stub_clone_done
cv_stub_clone_done:
	ud2
1:
	mov	$__NR_prctl, %eax
	mov	$1, %edi		// PR_SET_PDEATHSIG
	mov	$9, %esi		// SIGKILL
	syscall
	mov	$__NR_getppid, %eax
	syscall
	cmp	%r12, %rax
	je	2f
	mov	$__NR_exit_group, %eax
	mov	$1, %edi
	syscall
	.globl cv_stub_pause
cv_stub_pause:
2:
	mov	$__NR_pause, %eax
	syscall
	jmp	2b

	.globl cv_stub_end
cv_stub_end:

	.section .note.GNU-stack, "", @progbits
