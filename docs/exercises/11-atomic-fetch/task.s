# Goal: add 5 to the counter atomically, return old << 8 | new
        *(u64 *)(r10 - 8) = 10
        r1 = 5
        lock *(u64 *)(r10 - 8) += r1
        r0 = r1                          # meant to be the old value
        r0 <<= 8
        r2 = *(u64 *)(r10 - 8)
        r0 |= r2
        exit
