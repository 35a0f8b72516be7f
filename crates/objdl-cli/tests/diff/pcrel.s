# PC-relative and size relocations of every width. ld links this one as a
# PIE (nothing here needs an absolute address).
	.text
	.globl	pc_code
	.type	pc_code, @function
pc_code:
	leaq	pc_ro(%rip), %rax		# R_X86_64_PC32
	movl	pc_data+8(%rip), %eax		# R_X86_64_PC32, addend -4 + 8
	movl	$7, pc_data+4(%rip)		# R_X86_64_PC32, addend -8 (imm follows)
	call	pc_far				# R_X86_64_PLT32
	jmp	pc_far@PLT			# R_X86_64_PLT32
	jne	pc_far				# R_X86_64_PLT32 in a jcc
	leaq	pc_bss(%rip), %rcx		# R_X86_64_PC32 into .bss
	movl	$pc_far@SIZE, %eax		# R_X86_64_SIZE32
	movl	$pc_far@SIZE+3, %eax		# R_X86_64_SIZE32, addend
	movabsq	$pc_far@SIZE, %rax		# R_X86_64_SIZE64
	movabsq	$pc_far@SIZE-1, %rax		# R_X86_64_SIZE64, negative addend
	.reloc	.+1, R_X86_64_SIZE32, pc_data+2	# R_X86_64_SIZE32 of a local symbol
	movl	$0, %eax
	ret
	.size	pc_code, .-pc_code

	.section .text.far,"ax",@progbits
	.globl	pc_far
	.type	pc_far, @function
pc_far:
	leaq	pc_code(%rip), %rax		# R_X86_64_PC32 backwards
	ret
	.size	pc_far, .-pc_far

	.section .rodata
	.align	8
	.type	pc_ro, @object
pc_ro:
	.long	pc_code - .			# R_X86_64_PC32 in data
	.long	pc_data - . + 0x10		# R_X86_64_PC32 in data, addend
	.quad	pc_far - .			# R_X86_64_PC64
	.reloc	., R_X86_64_PC64, pc_data-0x1000
	.quad	0				# R_X86_64_PC64, negative addend
	.reloc	., R_X86_64_PC16, pc_ro_near	# R_X86_64_PC16, same section
	.word	0
	.reloc	., R_X86_64_PC16, pc_ro-6	# R_X86_64_PC16, backwards
	.word	0
	.reloc	., R_X86_64_PC8, pc_ro_near+3	# R_X86_64_PC8, same section
	.byte	0
	.reloc	., R_X86_64_PC8, pc_ro		# R_X86_64_PC8, backwards
	.byte	0
	.quad	pc_code				# R_X86_64_64
	.quad	pc_bss+0x20			# R_X86_64_64 into .bss
	.reloc	., R_X86_64_SIZE32, pc_ro	# R_X86_64_SIZE32 of this object
	.long	0
	.reloc	., R_X86_64_SIZE64, pc_code+0x100	# R_X86_64_SIZE64, addend
	.quad	0
pc_ro_near:
	.quad	0
	.size	pc_ro, .-pc_ro

	.data
	.align	16
	.type	pc_data, @object
pc_data:
	.long	1, 2, 3, 4, 5
	.size	pc_data, .-pc_data
	.reloc	., R_X86_64_PC16, pc_data2+2	# R_X86_64_PC16 to the next section
	.word	0
	.reloc	., R_X86_64_PC8, pc_data2	# R_X86_64_PC8 to the next section
	.byte	0
	.byte	0
	.long	pc_far - .			# R_X86_64_PC32 from data into text

	.section .data.two,"aw",@progbits
	.align	4
pc_data2:
	.long	0x11223344
	.reloc	., R_X86_64_PC16, pc_data	# R_X86_64_PC16 to the previous section
	.word	0
	.reloc	., R_X86_64_PC8, pc_data+20	# R_X86_64_PC8 to the previous section
	.byte	0

	.bss
	.align	32
pc_bss:
	.zero	64
	.section .note.GNU-stack,"",@progbits
