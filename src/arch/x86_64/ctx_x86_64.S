/* x86-64 System V context switch.
 *
 * void grove__ctx_swap(void **save_sp, void *new_sp)
 *
 * Saves the callee-saved state of the running context on its own stack,
 * stores the stack pointer to *save_sp, loads new_sp and restores the same
 * layout from there. Frame at the saved stack pointer (byte offsets):
 *
 *    0  MXCSR (4 bytes)   4  x87 control word (2 bytes, 2 padding)
 *    8  r15   16 r14   24 r13   32 r12   40 rbx   48 rbp
 *   56  return address
 *
 * The layout is GROVE__X86_FRAME_* in switch.c, checked statically there.
 * Reference: System V AMD64 ABI, section 3.2.1 (callee-saved registers,
 * MXCSR control bits and the x87 control word are preserved across calls).
 *
 * A new context's frame holds r12 = arg, r13 = entry and the return address
 * grove__ctx_trampoline, which calls entry(arg) with the ABI's alignment;
 * should entry return, the trampoline calls grove__ctx_returned (abort).
 */
    .text
    .globl grove__ctx_swap
    .hidden grove__ctx_swap
    .type grove__ctx_swap, @function
    .p2align 4
grove__ctx_swap:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size grove__ctx_swap, .-grove__ctx_swap

    .globl grove__ctx_trampoline
    .hidden grove__ctx_trampoline
    .type grove__ctx_trampoline, @function
    .p2align 4
grove__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    xorl %ebp, %ebp
    movq %r12, %rdi
    callq *%r13
    callq grove__ctx_returned
    ud2
    .cfi_endproc
    .size grove__ctx_trampoline, .-grove__ctx_trampoline

    .section .note.GNU-stack,"",@progbits
