# add a u64 to a stack slot that was never written
        r1 = 5
        r0 = *(u64 *)(r10 - 8)
        r0 += r1
        exit
