# Absolute relocations of every width against symbols of the unit, against
# absolute values, against absolute symbols defined by abs_defs.s and
# against undefined weak symbols.
# ld links this one position-dependent: a PIE may not hold 32/32S/16/8.
	.text
	.globl	abs_code
	.type	abs_code, @function
abs_code:
	movl	$abs_data, %eax			# R_X86_64_32
	movl	$abs_data+12, %ecx		# R_X86_64_32 with an addend
	movq	$abs_data+8, %rax		# R_X86_64_32S
	movl	abs_data(,%rdi,4), %eax		# R_X86_64_32S in a SIB operand
	movq	$abs_callee-16, %rdx		# R_X86_64_32S, negative addend
	movabsq	$abs_data+0x123456, %rsi	# R_X86_64_64
	leaq	abs_ro(%rip), %rdi		# R_X86_64_PC32
	call	abs_callee			# R_X86_64_PLT32 to another section
	jmp	abs_callee@PLT			# R_X86_64_PLT32
	movw	$small16, %ax			# R_X86_64_16 against an absolute symbol
	movb	$small8, %al			# R_X86_64_8 against an absolute symbol
	call	objdl_diff_absent_fn		# R_X86_64_PLT32 to an undefined weak: 0
	movl	$objdl_diff_absent, %eax	# R_X86_64_32, undefined weak
	leaq	objdl_diff_absent+16(%rip), %rax	# R_X86_64_PC32, undefined weak
	.size	abs_code, .-abs_code

	.section .text.callee,"ax",@progbits
	.globl	abs_callee
	.type	abs_callee, @function
abs_callee:
	ret
	.size	abs_callee, .-abs_callee

	.section .rodata
	.align	8
abs_ro:
	.quad	abs_code			# R_X86_64_64
	.quad	abs_callee+0x7fffffff		# R_X86_64_64, big addend
	.long	abs_data			# R_X86_64_32
	.reloc	., R_X86_64_16, 0x1234		# R_X86_64_16, absolute value
	.word	0
	.reloc	., R_X86_64_16, -2		# R_X86_64_16, negative (bitfield)
	.word	0
	.reloc	., R_X86_64_16, 0xfedc		# R_X86_64_16, above 0x7fff (bitfield)
	.word	0
	.reloc	., R_X86_64_8, 0x7f		# R_X86_64_8
	.byte	0
	.reloc	., R_X86_64_8, -128		# R_X86_64_8, negative
	.byte	0
	.reloc	., R_X86_64_8, 0xf0		# R_X86_64_8, above 0x7f
	.byte	0
	.byte	0
	.word	small16+0x11			# R_X86_64_16, symbol + addend
	.byte	small8-1			# R_X86_64_8, symbol + addend
	.byte	0
	.long	big32				# R_X86_64_32 against an absolute symbol
	.reloc	., R_X86_64_32S, neg_abs	# R_X86_64_32S against a negative absolute
	.long	0
	.quad	neg_abs+5			# R_X86_64_64 against a negative absolute

	.data
	.align	16
	.globl	abs_data
	.type	abs_data, @object
abs_data:
	.long	1, 2, 3, 4
	.size	abs_data, .-abs_data
	.quad	abs_ro+3			# R_X86_64_64
	.long	abs_ro				# R_X86_64_32
	.long	abs_data+0x10			# R_X86_64_32 into its own section
	.quad	objdl_diff_absent+8		# R_X86_64_64, undefined weak
	.long	objdl_diff_absent - .		# R_X86_64_PC32, undefined weak
	.reloc	., R_X86_64_SIZE32, abs_sized	# R_X86_64_SIZE32 of abs_defs.s's symbol
	.long	0
	.reloc	., R_X86_64_SIZE64, abs_sized+1	# R_X86_64_SIZE64 of abs_defs.s's symbol
	.quad	0
	.reloc	., R_X86_64_SIZE32, .rodata	# R_X86_64_SIZE32 of a section symbol
	.long	0
	.reloc	., R_X86_64_SIZE32, abs_nosize	# R_X86_64_SIZE32 of a symbol without .size
	.long	0
abs_nosize:
	.long	0

	# Weak references that nothing defines (neither objdl's process nor
	# the unit): both linkers resolve them to 0.
	.weak	objdl_diff_absent, objdl_diff_absent_fn
	.section .note.GNU-stack,"",@progbits
