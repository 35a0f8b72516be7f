# Absolute symbols and a sized object for abs.s: the second object of the unit.
	.globl	small16, small8, big32, neg_abs
	.set	small16, 0x7ff0
	.set	small8, 0x42
	.set	big32, 0xfedcba98
	.set	neg_abs, -0x1234

	.data
	.globl	abs_sized
	.type	abs_sized, @object
abs_sized:
	.zero	24
	.size	abs_sized, 24
	.section .note.GNU-stack,"",@progbits
