# Solution: atomic_fetch_add returns the old value in its source register
        *(u64 *)(r10 - 8) = 10
        r1 = 5
        r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)   # r1 = 10, the slot 15
        r0 = r1
        r0 <<= 8
        r2 = *(u64 *)(r10 - 8)
        r0 |= r2
        exit
