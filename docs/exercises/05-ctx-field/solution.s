# Solution: protocol is a u32 at offset 16; load 4 bytes, not 8
        r0 = *(u32 *)(r1 + 16)
        exit
