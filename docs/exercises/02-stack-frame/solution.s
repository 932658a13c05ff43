# Solution: the slot is the 8 bytes below r10, r10 - 8 .. r10 - 1
        *(u64 *)(r10 - 8) = 7
        r0 = *(u64 *)(r10 - 8)
        exit
