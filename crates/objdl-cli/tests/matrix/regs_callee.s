# Unit A: check_regs spills every integer register, compares each with the
# value the caller loaded, and returns a mask of those that changed on the
# way (bit 0: r15 ... bit 14: rax). 0 means every register arrived intact.
    .section .rodata
    .p2align 3
expected:   # in the order the pushes below leave them on the stack
    .quad 0xffffffffffffffff, 0xeeeeeeeeeeeeeeee, 0xdddddddddddddddd, 0xcccccccccccccccc # r15 r14 r13 r12
    .quad 0xbbbbbbbbbbbbbbbb, 0xaaaaaaaaaaaaaaaa, 0x9999999999999999, 0x8888888888888888 # r11 r10 r9 r8
    .quad 0x7777777777777777, 0x6666666666666666, 0x5555555555555555, 0x4444444444444444 # rbp rdi rsi rdx
    .quad 0x3333333333333333, 0x2222222222222222, 0x1111111111111111                     # rcx rbx rax

    .text
    .globl check_regs
    .type check_regs, @function
check_regs:
    .irp reg, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
    pushq %\reg
    .endr
    xorl %eax, %eax
    xorl %ecx, %ecx
    leaq expected(%rip), %rsi
1:  movq (%rsp,%rcx,8), %rdx
    cmpq (%rsi,%rcx,8), %rdx
    je 2f
    btsq %rcx, %rax
2:  incq %rcx
    cmpq $15, %rcx
    jne 1b
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    addq $32, %rsp      # r11 r10 r9 r8
    popq %rbp
    addq $32, %rsp      # rdi rsi rdx rcx
    popq %rbx
    addq $8, %rsp       # rax: the result is the mask
    ret
    .size check_regs, .-check_regs
    .section .note.GNU-stack,"",@progbits
