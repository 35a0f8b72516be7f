//! How a relocated value is stored in the section's bytes, and which values
//! fit: whole little-endian words (all of x86-64's fields), or a bit field
//! inside an instruction word (AArch64's immediates).

/// How a relocated value is stored, and which values fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// 64 bits; every value fits, taken modulo 2^64 as GNU ld and lld take
    /// it: an address plus an addend, or the distance between two
    /// addresses, wraps as the processor's own arithmetic does (a PC64
    /// field to an address above 2^63 holds a "negative" distance).
    W64,
    /// Signed 32 bits.
    S32,
    /// Unsigned 32 bits (zero-extended by the instruction).
    U32,
    /// 16 bits, signed or unsigned: −2^15 to 2^16−1, as lld checks it
    /// (GNU ld's "bitfield" check also lets some values wrap; objdl does not).
    B16,
    /// Signed 16 bits.
    S16,
    /// 8 bits, signed or unsigned: −2^7 to 2^8−1, as lld checks it.
    B8,
    /// Signed 8 bits.
    S8,
    /// Some bits of a little-endian word (see [`BitField`]). No x86-64
    /// relocation has one (its fields are whole bytes); AArch64's
    /// immediates are.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "x86-64, the only architecture, has no bit fields")
    )]
    Bits(BitField),
}

/// A field of `width` bits at bit `shift` of a little-endian word of
/// `word` bytes, holding the value divided by 2^`scale` (whose low `scale`
/// bits must then be zero), as a signed or an unsigned number. The word's
/// other bits are the instruction's and are kept. An AArch64 `b` is
/// `BitField { word: 4, shift: 0, width: 26, scale: 2, signed: true }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BitField {
    /// The word's size in bytes (at most 8).
    pub word: u8,
    /// The field's lowest bit in the word.
    pub shift: u8,
    /// The field's size in bits (1 to 63).
    pub width: u8,
    /// The value is stored shifted right by this many bits.
    pub scale: u8,
    /// Two's complement (else unsigned).
    pub signed: bool,
}

impl BitField {
    /// The values that fit, inclusive (multiples of 2^`scale` between).
    const fn range(self) -> (i128, i128) {
        let (lo, hi) = if self.signed {
            (
                -(1i128 << (self.width - 1)),
                (1i128 << (self.width - 1)) - 1,
            )
        } else {
            (0, (1i128 << self.width) - 1)
        };
        (lo << self.scale, hi << self.scale)
    }

    /// Does `v` fit: in range, and a multiple of 2^`scale`?
    fn fits(self, v: i128) -> bool {
        let (lo, hi) = self.range();
        v >= lo && v <= hi && v & ((1i128 << self.scale) - 1) == 0
    }

    /// Stores `v` (checked with [`BitField::fits`]) into its bits of the
    /// word at the start of `buf`, keeping the others.
    #[cold]
    fn write(self, buf: &mut [u8], v: i128) {
        let n = usize::from(self.word);
        let mut word = [0u8; 8];
        word[..n].copy_from_slice(&buf[..n]);
        let old = u64::from_le_bytes(word);
        let mask = ((1u64 << self.width) - 1) << self.shift;
        let bits = ((v >> self.scale) as u64) << self.shift;
        let new = (old & !mask) | (bits & mask);
        buf[..n].copy_from_slice(&new.to_le_bytes()[..n]);
    }
}

impl Field {
    /// The width in bytes (for a bit field, of its word).
    pub const fn width(self) -> usize {
        match self {
            Field::W64 => 8,
            Field::S32 | Field::U32 => 4,
            Field::B16 | Field::S16 => 2,
            Field::B8 | Field::S8 => 1,
            Field::Bits(b) => b.word as usize,
        }
    }

    /// The values that fit, inclusive; for [`Field::W64`], the values it
    /// holds without wrapping (every value fits it: see [`Field::fits`]);
    /// for a bit field, only the multiples of its scale between fit.
    pub fn range(self) -> (i128, i128) {
        match self {
            Field::W64 => (i64::MIN as i128, u64::MAX as i128),
            Field::S32 => (i32::MIN as i128, i32::MAX as i128),
            Field::U32 => (0, u32::MAX as i128),
            Field::B16 => (i16::MIN as i128, u16::MAX as i128),
            Field::S16 => (i16::MIN as i128, i16::MAX as i128),
            Field::B8 => (i8::MIN as i128, u8::MAX as i128),
            Field::S8 => (i8::MIN as i128, i8::MAX as i128),
            Field::Bits(b) => b.range(),
        }
    }

    /// Does `v` fit? Always, for a 64-bit field, which takes it modulo 2^64.
    #[inline]
    pub fn fits(self, v: i128) -> bool {
        if let Field::Bits(b) = self {
            return b.fits(v);
        }
        let (lo, hi) = self.range();
        self == Field::W64 || (v >= lo && v <= hi)
    }

    /// Words for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Field::W64 => "a 64-bit field",
            Field::S32 => "a signed 32-bit field",
            Field::U32 => "an unsigned 32-bit field",
            Field::B16 => "a 16-bit field",
            Field::S16 => "a signed 16-bit field",
            Field::B8 => "an 8-bit field",
            Field::S8 => "a signed 8-bit field",
            Field::Bits(BitField { signed: true, .. }) => "a signed bit field",
            Field::Bits(BitField { signed: false, .. }) => "an unsigned bit field",
        }
    }

    /// Stores `v`, which the caller has checked with [`Field::fits`].
    #[inline]
    pub fn write(self, buf: &mut [u8], v: i128) {
        if let Field::Bits(b) = self {
            return b.write(buf, v);
        }
        // Fixed widths, so that each store is one instruction, not a memcpy.
        let v = v as u64;
        match self.width() {
            8 => buf[..8].copy_from_slice(&v.to_le_bytes()),
            4 => buf[..4].copy_from_slice(&(v as u32).to_le_bytes()),
            2 => buf[..2].copy_from_slice(&(v as u16).to_le_bytes()),
            _ => buf[0] = v as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_ranges() {
        assert!(Field::S32.fits(i32::MAX as i128));
        assert!(!Field::S32.fits(i32::MAX as i128 + 1));
        assert!(Field::S32.fits(i32::MIN as i128));
        assert!(!Field::S32.fits(i32::MIN as i128 - 1));
        assert!(Field::U32.fits(u32::MAX as i128));
        assert!(!Field::U32.fits(-1));
        assert!(Field::B16.fits(-32768) && Field::B16.fits(65535) && !Field::B16.fits(65536));
        assert!(!Field::S16.fits(32768));
        assert!(Field::B8.fits(255) && !Field::B8.fits(-129));
        assert!(!Field::S8.fits(128));
        // 64 bits: modulo 2^64, as ld computes it.
        assert!(Field::W64.fits(i64::MIN as i128 - 1) && Field::W64.fits(u64::MAX as i128 + 1));
        let mut buf = [0u8; 8];
        Field::W64.write(&mut buf, i64::MIN as i128 - 0x10);
        assert_eq!(u64::from_le_bytes(buf), 0x7fff_ffff_ffff_fff0);
    }

    /// A branch-like field: 26 signed bits of a 32-bit word, in units of 4
    /// bytes, under an opcode in the top 6 bits that the write keeps.
    #[test]
    fn bit_field_writes_and_range() {
        let f = Field::Bits(BitField {
            word: 4,
            shift: 0,
            width: 26,
            scale: 2,
            signed: true,
        });
        assert_eq!(f.width(), 4);
        assert_eq!(f.range(), (-(1 << 27), (1 << 27) - 4));
        assert!(f.fits(-(1 << 27)) && f.fits((1 << 27) - 4));
        assert!(!f.fits(1 << 27) && !f.fits(-(1 << 27) - 4));
        // Not a multiple of the scale.
        assert!(!f.fits(6));
        let mut b = 0x9400_0000u32.to_le_bytes();
        f.write(&mut b, -8);
        assert_eq!(u32::from_le_bytes(b), 0x9400_0000 | 0x03ff_fffe);
        f.write(&mut b, 0x40);
        assert_eq!(u32::from_le_bytes(b), 0x9400_0010);
        // Unsigned, in the middle of the word: 12 bits at bit 10.
        let g = Field::Bits(BitField {
            word: 4,
            shift: 10,
            width: 12,
            scale: 0,
            signed: false,
        });
        assert_eq!(g.range(), (0, 4095));
        assert!(!g.fits(-1) && !g.fits(4096));
        let mut b = u32::MAX.to_le_bytes();
        g.write(&mut b, 0);
        assert_eq!(u32::from_le_bytes(b), !(0xfff << 10));
        assert_eq!(g.describe(), "an unsigned bit field");
    }
}
