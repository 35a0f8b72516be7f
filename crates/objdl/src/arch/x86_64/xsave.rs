//! The size of the `xsave` area, which the resolvers (TLS descriptors, lazy
//! binding) need to save all register state.

/// The size of the area `xsave` fills with the register state the kernel
/// enables (CPUID leaf 0xD, sub-leaf 0, EBX), plus 64 for the alignment;
/// read by the resolver's slow path.
pub(super) static XSAVE_SIZE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The size of the `xsave` area (see [`XSAVE_SIZE`]), read once.
pub(super) fn xsave_size() -> Option<u64> {
    use std::sync::atomic::Ordering;
    if XSAVE_SIZE.load(Ordering::Acquire) == 0 {
        let leaf1 = std::arch::x86_64::__cpuid(1);
        // OSXSAVE: the kernel enabled xsave and XCR0.
        if leaf1.ecx & (1 << 27) == 0 {
            return None;
        }
        let size = std::arch::x86_64::__cpuid_count(0xd, 0).ebx;
        // The legacy area and the header, at least; 64 more for the alignment.
        XSAVE_SIZE.store(u64::from(size.max(576)) + 64, Ordering::Release);
    }
    Some(XSAVE_SIZE.load(Ordering::Acquire))
}
