# Every GOT-relative form. ld links this as a PIE, so that it relaxes
# GOTPCRELX the way objdl does (a position-dependent ld output would turn
# the loads into `mov $imm32`).
	.text
	.globl	got_code
	.type	got_code, @function
got_code:
	movq	got_var@GOTPCREL(%rip), %rax	# R_X86_64_REX_GOTPCRELX: mov -> lea
	movq	got_var@GOTPCREL(%rip), %r12	# R_X86_64_REX_GOTPCRELX, REX.R
	movl	got_var@GOTPCREL(%rip), %eax	# R_X86_64_GOTPCRELX: mov -> lea
	call	*got_fn@GOTPCREL(%rip)		# R_X86_64_GOTPCRELX: call -> addr32 call
	jmp	*got_fn@GOTPCREL(%rip)		# R_X86_64_GOTPCRELX: jmp -> jmp; nop
	addq	got_var@GOTPCREL(%rip), %rax	# R_X86_64_REX_GOTPCRELX, not relaxed: GOT
	movl	got_var@GOTPCREL+4(%rip), %eax	# R_X86_64_GOTPCRELX, addend 0: loads the
						# slot's high half, so it must stay a load
	call	*got_fn@GOTPCREL+8(%rip)	# R_X86_64_GOTPCRELX, addend +4: not relaxable
	cmpq	%rax, got_var2@GOTPCREL(%rip)	# R_X86_64_REX_GOTPCRELX, not relaxed: GOT
	.reloc	.+3, R_X86_64_GOTPCREL, got_var-4
	movq	0(%rip), %rax			# R_X86_64_GOTPCREL (never relaxed)
	.reloc	.+3, R_X86_64_GOTPCREL, got_var2+12
	movq	0(%rip), %rax			# R_X86_64_GOTPCREL, odd addend
	leaq	_GLOBAL_OFFSET_TABLE_(%rip), %rbx	# R_X86_64_GOTPC32
1:	leaq	1b(%rip), %rbx
	movabsq	$_GLOBAL_OFFSET_TABLE_-1b, %r11	# R_X86_64_GOTPC64
	movabsq	$got_var@GOTOFF, %rax		# R_X86_64_GOTOFF64
	movabsq	$got_local+8@GOTOFF, %rax	# R_X86_64_GOTOFF64, addend
	movabsq	$got_var@GOT, %rax		# R_X86_64_GOT64
	movabsq	$got_fn@PLTOFF, %rax		# R_X86_64_PLTOFF64
	movl	got_local@GOT, %eax		# R_X86_64_GOT32
	ret
	.size	got_code, .-got_code

	.section .text.fn,"ax",@progbits
	.globl	got_fn
	.type	got_fn, @function
got_fn:
	ret
	.size	got_fn, .-got_fn

	.data
	.align	8
	.globl	got_var, got_var2
	.type	got_var, @object
got_var:
	.quad	7
	.size	got_var, 8
got_var2:
	.quad	got_fn				# R_X86_64_64
	.long	got_var@GOTPCREL		# R_X86_64_GOTPCREL in data
	.quad	got_var2@GOTPCREL+8		# R_X86_64_GOTPCREL64
got_local:
	.quad	0, 0
	.section .note.GNU-stack,"",@progbits
