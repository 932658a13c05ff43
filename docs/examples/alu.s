# x / 0 = 0, x % 0 = x, shift amounts are masked, 32-bit writes zero the upper half
        r1 = 7
        r2 = 0
        r3 = r1
        r3 /= r2        # 7 / 0 -> 0
        r4 = r1
        r4 %= r2        # 7 % 0 -> 7: dst unchanged
        r5 = 1
        r6 = 65
        r5 <<= r6       # 1 << (65 & 63) -> 2
        r9 = -1         # 0xffffffffffffffff
        w9 = w9         # 32-bit mov: 0x00000000ffffffff
        r9 >>= 24       # 0xff; without the zeroing it would be 0xffffffffff
        r0 = r3         # r0 = r3 << 24 | r4 << 16 | r5 << 8 | r9
        r0 <<= 8
        r0 |= r4
        r0 <<= 8
        r0 |= r5
        r0 <<= 8
        r0 |= r9
        exit
