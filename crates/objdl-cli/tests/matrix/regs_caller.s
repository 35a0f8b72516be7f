# Unit B: main loads a distinct value into every integer register (rax, r10
# and r11 included: OCaml passes arguments in rax) and calls check_regs in
# another unit, through a trampoline when the units are far apart. The exit
# status is the mask of registers that did not arrive intact.
    .text
    .globl main
    .type main, @function
main:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    movabsq $0x1111111111111111, %rax
    movabsq $0x2222222222222222, %rbx
    movabsq $0x3333333333333333, %rcx
    movabsq $0x4444444444444444, %rdx
    movabsq $0x5555555555555555, %rsi
    movabsq $0x6666666666666666, %rdi
    movabsq $0x7777777777777777, %rbp
    movabsq $0x8888888888888888, %r8
    movabsq $0x9999999999999999, %r9
    movabsq $0xaaaaaaaaaaaaaaaa, %r10
    movabsq $0xbbbbbbbbbbbbbbbb, %r11
    movabsq $0xcccccccccccccccc, %r12
    movabsq $0xdddddddddddddddd, %r13
    movabsq $0xeeeeeeeeeeeeeeee, %r14
    movabsq $0xffffffffffffffff, %r15
    call check_regs@PLT
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret
    .size main, .-main
    .section .note.GNU-stack,"",@progbits
