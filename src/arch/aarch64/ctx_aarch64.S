/* AArch64 (AAPCS64) context switch.
 *
 * void grove__ctx_swap(void **save_sp, void *new_sp)
 *
 * Frame at the saved stack pointer (176 bytes, 16-byte aligned):
 *
 *    0 x19   8 x20  16 x21  24 x22  32 x23  40 x24  48 x25  56 x26
 *   64 x27  72 x28  80 x29 (fp)  88 x30 (lr: where the switch returns)
 *   96 d8  104 d9  112 d10 120 d11 128 d12 136 d13 144 d14 152 d15
 *  160 FPCR (8)  168 padding
 *
 * Reference: Procedure Call Standard for the Arm 64-bit Architecture,
 * section 6.1.1 (x19-x29 and the low 64 bits of v8-v15 are callee-saved)
 * and 6.1.2 (FPCR control bits are preserved). The layout is
 * GROVE__A64_FRAME_* in switch.c.
 *
 * A new context has x19 = arg, x20 = entry, x30 = grove__ctx_trampoline.
 */
    .text
    .globl grove__ctx_swap
    .hidden grove__ctx_swap
    .type grove__ctx_swap, %function
    .p2align 4
grove__ctx_swap:
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldr x9, [sp, #160]
    msr fpcr, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    ret
    .size grove__ctx_swap, .-grove__ctx_swap

    .globl grove__ctx_trampoline
    .hidden grove__ctx_trampoline
    .type grove__ctx_trampoline, %function
    .p2align 4
grove__ctx_trampoline:
    mov x29, #0
    mov x0, x19
    blr x20
    bl grove__ctx_returned
    brk #0
    .size grove__ctx_trampoline, .-grove__ctx_trampoline

    .section .note.GNU-stack,"",%progbits
